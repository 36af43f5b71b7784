"""At-least-once commits: offsets are committed only up to the batches whose outputs were all delivered,
in order, and a failed delivery gives back every batch in flight (stand-in clients: no broker here)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from processor.stream.commit import CommitWhenDelivered
from processor.stream.records import Output, Span


class Producer:
    """Keeps each produced record's delivery callback for the test to answer."""

    def __init__(self) -> None:
        self.waiting: list = []
        self.flushed: list[float] = []

    def produce(self, topic, value, key, headers=None, on_delivery=None, timestamp=0) -> None:
        self.waiting.append(on_delivery)

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        self.flushed.append(timeout)
        return len(self.waiting)

    def deliver(self, n: int, error: KafkaError | None = None) -> None:
        for callback in self.waiting[:n]:
            callback(error, None)
        del self.waiting[:n]


class Consumer:
    def __init__(self) -> None:
        self.commits: list[tuple[dict[tuple[str, int], int], bool]] = []

    def commit(self, offsets, asynchronous: bool) -> None:
        self.commits.append(({(tp.topic, tp.partition): tp.offset for tp in offsets}, asynchronous))


def outputs(n: int) -> list[Output]:
    return [Output("accepted", b"k", b"v", []) for _ in range(n)]


def span(partition: int, first: int, after: int) -> Span:
    return Span({("sr", partition): first}, {("sr", partition): after})


@pytest.fixture
def clients() -> tuple[Producer, Consumer, CommitWhenDelivered]:
    producer, consumer = Producer(), Consumer()
    return producer, consumer, CommitWhenDelivered(producer, consumer, commit_interval_s=0.0)  # type: ignore[arg-type]


def test_offsets_are_committed_only_up_to_the_first_batch_still_in_flight(clients):
    producer, consumer, durable = clients
    durable(outputs(2), span(0, 0, 10))
    durable(outputs(1), span(0, 10, 20))
    producer.waiting[2](None, None)  # the second batch is delivered first
    producer.waiting.pop(2)
    durable.settle()
    assert consumer.commits == []  # the first batch is still in flight: committing 20 could lose it
    producer.deliver(2)
    durable.settle()
    assert consumer.commits == [({("sr", 0): 20}, True)]


def test_a_failed_delivery_gives_back_every_batch_in_flight_from_its_first_offsets(clients):
    producer, consumer, durable = clients
    durable(outputs(1), span(0, 0, 5))
    producer.deliver(1)
    durable(outputs(1), span(0, 5, 9))
    durable(outputs(1), Span({("sr", 0): 9, ("sr", 1): 40}, {("sr", 0): 12, ("sr", 1): 41}))
    producer.deliver(1, KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
    with pytest.raises(KafkaException):
        durable.settle()
    assert consumer.commits == [({("sr", 0): 5}, True)]  # only what was delivered before the failure
    with pytest.raises(KafkaException):  # nothing more is taken until the caller has rewound
        durable(outputs(1), span(0, 12, 13))
    assert durable.abandoned() == {("sr", 0): 5, ("sr", 1): 40}
    assert durable.abandoned() == {}
    durable(outputs(1), span(0, 5, 9))  # the rewound batch is taken again
    producer.deliver(2)  # the given-up batch's late delivery, then the new one's
    durable.settle()
    assert consumer.commits[-1] == ({("sr", 0): 9}, True)


def test_settling_with_a_wait_commits_synchronously_and_gives_up_what_was_not_delivered(clients):
    producer, consumer, durable = clients
    durable(outputs(1), span(0, 0, 3))
    durable(outputs(1), span(0, 3, 6))
    producer.deliver(1)
    with pytest.raises(KafkaException, match="not delivered in time"):
        durable.settle(10.0)
    assert producer.flushed == [10.0]
    assert consumer.commits == [({("sr", 0): 3}, False)]
    assert durable.abandoned() == {("sr", 0): 3}


def test_commits_wait_for_the_commit_interval():
    producer, consumer = Producer(), Consumer()
    durable = CommitWhenDelivered(producer, consumer, commit_interval_s=3600)  # type: ignore[arg-type]
    for n in range(3):
        durable(outputs(1), span(0, n, n + 1))
        producer.deliver(1)
        durable.settle()
    assert consumer.commits == [({("sr", 0): 1}, True)]  # the first, then nothing for an hour
    durable.settle(1.0)  # revocation or close: everything delivered is committed now
    assert consumer.commits[-1] == ({("sr", 0): 3}, False)
