"""At-least-once commits: offsets are committed only up to the batches whose outputs were all delivered,
in order, and a failed delivery gives back every batch in flight. Exactly-once: a producer broken by a fatal
error is replaced, and the batch whose commit is in doubt is read again from the group's committed offsets
(stand-in clients: no broker here; tests/reliability restarts a real one)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from processor.errors import ProducerFenced
from processor.kafka.records import Output, Span
from processor.observability.metrics import Metrics
from processor.stream.commit import CommitWhenDelivered, Transactional


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
        self.group_offsets: dict[tuple[str, int], int] = {}

    def committed(self, partitions, timeout: float) -> list[TopicPartition]:
        return [
            TopicPartition(tp.topic, tp.partition, self.group_offsets.get((tp.topic, tp.partition), -1001))
            for tp in partitions
        ]

    def consumer_group_metadata(self) -> str:
        return "group"

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
    assert durable.rewind({("sr", 0): 12}) == {("sr", 0): 5, ("sr", 1): 40}
    assert durable.rewind({("sr", 0): 12}) == {("sr", 0): 12}
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
    assert durable.rewind({}) == {("sr", 0): 3}


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


class TransactionalProducer:
    """Records its calls; ``commit_error`` is raised by commit_transaction (once), as after a broker restart."""

    def __init__(self, commit_error: KafkaError | None = None) -> None:
        self.calls: list[str] = []
        self.commit_error = commit_error

    def init_transactions(self, timeout: float) -> None:
        self.calls.append("init")

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def produce(self, topic, value, key, headers=None, on_delivery=None, timestamp=0) -> None:
        self.calls.append("produce")

    def send_offsets_to_transaction(self, positions, group, timeout: float) -> None:
        self.calls.append("send_offsets")

    def commit_transaction(self, timeout: float) -> None:
        self.calls.append("commit")
        if self.commit_error is not None:
            error, self.commit_error = self.commit_error, None
            raise KafkaException(error)

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")


INVALID_TXN_STATE = KafkaError(KafkaError.INVALID_TXN_STATE, "Failed to end transaction", fatal=True)


def transactional(*producers: TransactionalProducer) -> tuple[Consumer, Transactional]:
    made = iter(producers)
    consumer = Consumer()
    durable = Transactional(lambda: next(made), consumer, Metrics())  # type: ignore[arg-type, return-value]
    durable.start()
    return consumer, durable


@pytest.mark.parametrize("committed_after_all", [False, True])
def test_a_fatal_error_on_commit_replaces_the_producer_and_resumes_from_the_committed_offsets(committed_after_all):
    broken, successor = TransactionalProducer(commit_error=INVALID_TXN_STATE), TransactionalProducer()
    consumer, durable = transactional(broken, successor)
    with pytest.raises(KafkaException) as raised:
        durable(outputs(1), span(0, 100, 150))
    assert raised.value.args[0].retriable() and durable.producer is successor
    assert durable.rewind({("sr", 0): 100}) == {("sr", 0): 100}  # the processor seeks back to the batch
    consumer.group_offsets[("sr", 0)] = 150 if committed_after_all else 100
    if committed_after_all:  # the broker finished that commit: the re-read batch would be decided twice
        with pytest.raises(KafkaException, match="in doubt was committed"):
            durable(outputs(1), span(0, 100, 150))
        assert successor.calls == ["init"]  # nothing of the re-read batch was produced
        assert durable.rewind({("sr", 0): 100, ("sr", 1): 7}) == {("sr", 0): 150, ("sr", 1): 7}
        durable(outputs(1), span(0, 150, 160))
    else:
        durable(outputs(1), span(0, 100, 150))
    assert successor.calls == ["init", "begin", "produce", "send_offsets", "commit"]


def test_a_second_fatal_error_before_any_commit_ends_it():
    consumer, durable = transactional(
        TransactionalProducer(commit_error=INVALID_TXN_STATE), TransactionalProducer(commit_error=INVALID_TXN_STATE)
    )
    with pytest.raises(KafkaException):
        durable(outputs(1), span(0, 0, 5))
    consumer.group_offsets[("sr", 0)] = 0
    with pytest.raises(ProducerFenced, match="Failed to end transaction"):
        durable(outputs(1), span(0, 0, 5))


def test_a_fenced_producer_is_not_replaced():
    fenced = KafkaError(KafkaError.PRODUCER_FENCED, "fenced by a newer instance", fatal=True)
    _, durable = transactional(TransactionalProducer(commit_error=fenced), TransactionalProducer())
    with pytest.raises(ProducerFenced):
        durable(outputs(1), span(0, 0, 5))
