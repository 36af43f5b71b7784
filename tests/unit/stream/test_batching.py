"""How SrProcessor takes a batch from its consumer (a stand-in consumer: no broker needed here)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from confluent_kafka import TopicPartition

from processor.config import Settings
from processor.kafka.edge import IDLE_WAIT_S
from processor.observability.metrics import Metrics
from processor.stream.dlq import DlqPolicy
from processor.stream.processor import SrProcessor


class Queue:
    """consume(n, timeout) as librdkafka does it: up to n of what is queued."""

    def __init__(self, queued: int) -> None:
        self.queued = list(range(queued))
        self.calls: list[tuple[int, float]] = []

    def consume(self, n: int, timeout: float) -> list[int]:
        self.calls.append((n, timeout))
        taken, self.queued = self.queued[:n], self.queued[n:]
        return taken


class Durable:
    """Nothing to make durable: these tests stop at taking a batch."""

    def settle(self, wait_s: float = 0.0) -> None:
        pass

    def rewind(self, first: dict) -> dict:
        return first


def processor(consumer: object = None, **settings: object) -> SrProcessor:
    s = Settings(bootstrap_servers="127.0.0.1:1", **{"processing_guarantee": "at_least_once", **settings})
    judge = SimpleNamespace(max_record_bytes=1_000_000)  # the loop's batching needs no judging
    return SrProcessor(s, judge, Metrics(), DlqPolicy(1000, 0.5, 10_000), consumer, Durable())  # type: ignore[arg-type]


@pytest.mark.parametrize(("queued", "expected"), [(0, 0), (1, 1), (40, 40), (2500, 1000)])
def test_a_batch_is_the_first_sr_and_what_queued_behind_it(queued, expected):
    queue = Queue(queued)
    p = processor(queue)
    assert len(p._next_messages()) == expected
    first, *rest = queue.calls
    assert first == (1, IDLE_WAIT_S)  # waits for one SR only: a lone SR is never held back
    assert rest == ([] if queued == 0 else [(999, 0.0)])  # the rest: no waiting by default


def test_exactly_once_waits_10_ms_to_fill_a_transaction_unless_told_otherwise():
    assert processor(processing_guarantee="exactly_once").settings.batch_wait_s == 0.01
    assert processor(processing_guarantee="exactly_once", batch_timeout_ms=0).settings.batch_wait_s == 0.0
    assert processor().settings.batch_wait_s == 0.0


def test_batch_timeout_lets_a_batch_wait_to_fill():
    queue = Queue(3)
    p = processor(queue, batch_size=10, batch_timeout_ms=25)
    assert len(p._next_messages()) == 3
    assert queue.calls == [(1, IDLE_WAIT_S), (9, 0.025)]


class Record:
    """A consumed record's coordinates, as to_inputs reads them."""

    def __init__(self, partition: int, offset: int) -> None:
        self.coordinates = ("sr", partition, offset)

    def error(self) -> None:
        return None

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return b"v"

    def headers(self) -> None:
        return None

    def topic(self) -> str:
        return "sr"

    def partition(self) -> int:
        return self.coordinates[1]

    def offset(self) -> int:
        return self.coordinates[2]

    def timestamp(self) -> tuple[int, int]:
        return (1, 0)


class Rebalancing:
    """The second consume() of a batch serves a rebalance (revoke all, assign partition 0 only) before
    returning records, as librdkafka does inside consume()."""

    def __init__(self) -> None:
        self.p: SrProcessor  # set once the processor that receives this consumer exists
        self.seeks: list[tuple[int, int]] = []
        self.calls = 0

    def consume(self, n: int, timeout: float) -> list[Record]:
        self.calls += 1
        if self.calls == 1:
            return [Record(1, 1000)]
        self.p._on_revoke(self, [TopicPartition("sr", 0), TopicPartition("sr", 1)])  # type: ignore[arg-type]
        self.p._on_assign(self, [TopicPartition("sr", 1)])  # type: ignore[arg-type]
        return [Record(1, 1000), Record(1, 1001), Record(0, 7)]

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.partition, tp.offset))


def test_a_batch_taken_across_a_rebalance_is_given_back_and_its_partitions_rewound():
    # The record taken before the rebalance was taken again after it: judged as one batch it would be
    # decided twice (and a revoked partition's record would be decided by its new owner too).
    consumer = Rebalancing()
    p = processor(consumer)
    consumer.p = p
    p.assigned = {("sr", 0), ("sr", 1)}
    assert p._next_messages() == []
    assert consumer.seeks == [(1, 1000)]  # partition 0 is no longer ours: its new owner reads it
