"""How a judged batch's outputs and input offsets become durable together: one strategy per guarantee.

exactly_once (``Transactional``): the outputs and the offsets are one Kafka transaction; whatever fails
inside it aborts it before the batch is rewound, because a transaction left open wedges every later
batch. at_least_once (``DeliverThenCommit``): the outputs are flushed and every delivery confirmed,
then the offsets are committed synchronously; a failed delivery rewinds the batch.
Either raises KafkaException for the caller to rewind and retry, or ProducerFenced when the producer
can go no further.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from processor.observability.metrics import Metrics
from processor.stream.edge import produce_outputs
from processor.stream.records import Output

# A test's fault, called with the batch number and the producer after a batch is produced, before its commit.
BeforeCommit = Callable[[int, Producer], None]


class ProducerFenced(RuntimeError):
    """The transactional producer can go no further: fenced by a newer instance, or another fatal error."""


def is_fatal(error: KafkaError) -> bool:
    return error.fatal() or error.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError._FATAL)


def fenced(exc: KafkaException) -> ProducerFenced:
    return ProducerFenced(f"fatal Kafka error: {exc.args[0].str()}")


class Transactional:
    def __init__(
        self, producer: Producer, consumer: Consumer, metrics: Metrics, before_commit: BeforeCommit | None = None
    ) -> None:
        self.producer = producer
        self.consumer = consumer
        self.metrics = metrics
        self.before_commit = before_commit
        self.open = False  # begun, not yet committed or aborted
        self.batches = 0

    def __call__(self, outputs: Sequence[Output], positions: list[TopicPartition]) -> None:
        if self.open:  # a failed abort of an earlier batch: finish it before anything else
            self._abort()
        self.producer.begin_transaction()
        self.open = True
        try:
            produce_outputs(self.producer, outputs)
            if self.before_commit:
                self.before_commit(self.batches + 1, self.producer)
            self.producer.send_offsets_to_transaction(positions, self.consumer.consumer_group_metadata(), 30)
            self._commit()
        except Exception as exc:
            # Whatever failed (a refused record, a timeout, a broker error), abort before the rewind.
            if isinstance(exc, KafkaException) and is_fatal(exc.args[0]):
                raise fenced(exc) from exc
            self._abort()
            if isinstance(exc, KafkaException):
                raise
            raise KafkaException(KafkaError(KafkaError._FAIL, f"batch failed in its transaction: {exc!r}")) from exc
        self.open = False
        self.batches += 1
        self.metrics.transactions.labels("committed").inc()

    def _commit(self) -> None:
        """commit_transaction, retried while librdkafka says the error is retriable (its documented use)."""
        for attempt in range(3):
            try:
                self.producer.commit_transaction(60)
                return
            except KafkaException as exc:
                if not exc.args[0].retriable() or attempt == 2:
                    raise

    def _abort(self) -> None:
        try:
            self.producer.abort_transaction(30)
        except KafkaException as exc:
            if is_fatal(exc.args[0]):
                raise fenced(exc) from exc
            if exc.args[0].code() != KafkaError._STATE:  # _STATE: nothing open any more
                raise  # still open: the next batch aborts it first
        self.open = False
        self.metrics.transactions.labels("aborted").inc()


class DeliverThenCommit:
    def __init__(self, producer: Producer, consumer: Consumer) -> None:
        self.producer = producer
        self.consumer = consumer

    def __call__(self, outputs: Sequence[Output], positions: list[TopicPartition]) -> None:
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _msg: Message) -> None:
            if error is not None:
                failures.append(error)

        produce_outputs(self.producer, outputs, delivered)
        if self.producer.flush(60) or failures:
            raise KafkaException(failures[0] if failures else KafkaError(KafkaError._TIMED_OUT))
        self.consumer.commit(offsets=positions, asynchronous=False)
