"""How SrProcessor takes a batch from its consumer (a stand-in consumer: no broker needed here)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from processor.config import Settings
from processor.observability.metrics import Metrics
from processor.stream.dlq import DlqPolicy
from processor.stream.processor import IDLE_WAIT_S, SrProcessor


class Queue:
    """consume(n, timeout) as librdkafka does it: up to n of what is queued."""

    def __init__(self, queued: int) -> None:
        self.queued = list(range(queued))
        self.calls: list[tuple[int, float]] = []

    def consume(self, n: int, timeout: float) -> list[int]:
        self.calls.append((n, timeout))
        taken, self.queued = self.queued[:n], self.queued[n:]
        return taken


def processor(**settings: object) -> SrProcessor:
    s = Settings(bootstrap_servers="127.0.0.1:1", **{"processing_guarantee": "at_least_once", **settings})
    judge = SimpleNamespace(max_record_bytes=1_000_000)  # the loop's batching needs no judging
    return SrProcessor(s, judge=judge, metrics=Metrics(), dlq_policy=DlqPolicy())  # type: ignore[arg-type]


@pytest.mark.parametrize(("queued", "expected"), [(0, 0), (1, 1), (40, 40), (2500, 1000)])
def test_a_batch_is_the_first_sr_and_what_queued_behind_it(queued, expected):
    p = processor()
    p._consumer = Queue(queued)
    assert len(p._next_messages()) == expected
    first, *rest = p._consumer.calls
    assert first == (1, IDLE_WAIT_S)  # waits for one SR only: a lone SR is never held back
    assert rest == ([] if queued == 0 else [(999, 0.0)])  # the rest: no waiting by default


def test_exactly_once_waits_50_ms_to_fill_a_transaction_unless_told_otherwise():
    assert processor(processing_guarantee="exactly_once").settings.batch_wait_s == 0.05
    assert processor(processing_guarantee="exactly_once", batch_timeout_ms=0).settings.batch_wait_s == 0.0
    assert processor().settings.batch_wait_s == 0.0


def test_batch_timeout_lets_a_batch_wait_to_fill():
    p = processor(batch_size=10, batch_timeout_ms=25)
    p._consumer = Queue(3)
    assert len(p._next_messages()) == 3
    assert p._consumer.calls == [(1, IDLE_WAIT_S), (9, 0.025)]
