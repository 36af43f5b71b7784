"""How a judged batch's outputs and input offsets become durable together: one strategy per guarantee.

exactly_once (``Transactional``): the outputs and the offsets are one Kafka transaction; whatever fails
inside it aborts it before the batch is rewound, because a transaction left open wedges every later
batch. at_least_once (``CommitWhenDelivered``): the outputs are handed to the producer and the loop goes
on; a batch's offsets are committed once its outputs and every earlier batch's are confirmed delivered.
Either raises KafkaException for the caller to rewind (``rewind()`` says to where) and retry, or
ProducerFenced when the producer can go no further.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as NoAnswer
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from processor.errors import ProducerFenced
from processor.kafka.edge import error_text, produce_outputs
from processor.kafka.records import Output, Partition, Span, partitions_text
from processor.observability.metrics import Metrics

log = logging.getLogger(__name__)

# A test's fault, called with the batch number and the producer after a batch is produced, before its commit.
BeforeCommit = Callable[[int, Producer], None]


FENCING = (KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH)


def is_fatal(error: KafkaError) -> bool:
    return error.fatal() or error.code() in (*FENCING, KafkaError._FATAL)


def fenced(exc: KafkaException) -> ProducerFenced:
    return ProducerFenced(
        f"fatal Kafka error: {exc.args[0].str()} (a newer instance with this transactional id, or a broken producer)"
    )


class Durable(Protocol):
    producer: Producer  # the one in use (exactly-once may replace it)

    def start(self) -> None:
        """Before the first batch (exactly-once: init_transactions)."""

    def __call__(self, outputs: Sequence[Output], span: Span) -> None:
        """Make a judged batch's outputs and its input offsets durable (or raise)."""

    def settle(self, wait_s: float = 0.0) -> None:
        """Serve what the broker has confirmed; with ``wait_s``, wait that long for all of it and commit
        now (before partitions are revoked, or on close). Raises KafkaException for a failed delivery."""

    def rewind(self, first: dict[Partition, int]) -> dict[Partition, int]:
        """After a raise, given the failed batch's first offsets: where each partition must be read again."""


def _positions(offsets: dict[Partition, int]) -> list[TopicPartition]:
    return [TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()]


# librdkafka's transactional calls that talk to the broker, with their own timeouts. After a broker restart
# they have been seen never to return (send_offsets_to_transaction: librdkafka #5456, #5511), so each runs in a
# thread of its own and the loop waits for it at most its timeout plus STEP_MARGIN_S.
INIT_TIMEOUT_S, SEND_OFFSETS_TIMEOUT_S, COMMIT_TIMEOUT_S, ABORT_TIMEOUT_S = 20.0, 5.0, 30.0, 10.0
STEP_MARGIN_S = 5.0


class _Caller:
    """Runs producer calls one at a time in a daemon thread, so that the loop can stop waiting for one."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="srguard-transactions", daemon=True).start()

    def _serve(self) -> None:
        while True:
            call, done = self._calls.get()
            try:
                done.set_result(call())
            except BaseException as exc:
                done.set_exception(exc)

    def __call__(self, call: Callable[[], Any], bound_s: float) -> Any:
        done: Future[Any] = Future()
        self._calls.put((call, done))
        return done.result(bound_s)  # NoAnswer past the bound: the call goes on in its thread, unwaited


class Transactional:
    """One transaction per batch. A producer that can go no further without being fenced (a call that did not
    return within its bound, or a fatal error such as INVALID_TXN_STATE after a broker restart) is replaced by
    a new one with the same transactional id, whose init_transactions fences the old one and finishes its last
    transaction. Whether that transaction committed is then unknown: before the next batch the group's
    committed offsets are read, and where they differ from the rewind the partitions are read from them."""

    def __init__(
        self,
        make_producer: Callable[[], Producer],
        consumer: Consumer,
        metrics: Metrics,
        before_commit: BeforeCommit | None = None,
    ) -> None:
        self.make_producer = make_producer
        self.producer = make_producer()
        self.consumer = consumer
        self.metrics = metrics
        self.before_commit = before_commit
        self.open = False  # begun, not yet committed or aborted
        self.batches = 0
        self._initialised = False
        self._fatal_rebuild = False  # rebuilt for a fatal error, no batch committed since: a second one ends it
        self._batch: Span | None = None  # the batch in its transaction now
        self._unsure: dict[Partition, int] = {}  # after a rebuild: the rewind of a batch that may have committed
        self._override: dict[Partition, int] = {}  # committed offsets that differ from that rewind
        self._caller = _Caller()
        self._abandoned: list[Producer] = []  # kept alive: a call may still be running inside one

    def start(self) -> None:
        self._call("init_transactions", INIT_TIMEOUT_S)
        self._initialised = True

    def __call__(self, outputs: Sequence[Output], span: Span) -> None:
        if not self._initialised:
            self.start()
        if self._unsure:
            self._resync()
        if self.open:  # a failed abort of an earlier batch: finish it before anything else
            self._abort()
        self.producer.begin_transaction()
        self.open, self._batch = True, span
        try:
            produce_outputs(self.producer, outputs)
            if self.before_commit:
                self.before_commit(self.batches + 1, self.producer)
            group, positions = self.consumer.consumer_group_metadata(), _positions(span.next)
            self._call("send_offsets_to_transaction", SEND_OFFSETS_TIMEOUT_S, positions, group)
            self._commit()
        except Exception as exc:
            # Whatever failed (a refused record, a timeout, a broker error, a bug), abort before anything else.
            if isinstance(exc, KafkaException) and is_fatal(exc.args[0]):
                self._replace_broken(exc)
            if self.open:  # not after a rebuild: the new producer has nothing open
                self._abort()
            if isinstance(exc, BufferError):  # the producer's queue is full: a slow broker, retried like one
                raise KafkaException(KafkaError(KafkaError._QUEUE_FULL, f"producer queue full: {exc}")) from exc
            raise  # a Kafka error is retried by the caller; anything else is a bug, never retried as the broker's
        finally:
            self._batch = None
        self.open = False
        self.batches += 1
        self._fatal_rebuild = False
        self.metrics.transactions.labels("committed").inc()

    def _replace_broken(self, exc: KafkaException) -> None:
        """A fatal error: fenced by a newer instance ends the process; any other gets one new producer."""
        error: KafkaError = exc.args[0]
        if error.code() in FENCING or self._fatal_rebuild:
            raise fenced(exc) from exc
        self._fatal_rebuild = True
        self._rebuild(f"fatal error {error.str()}")
        raise KafkaException(KafkaError(KafkaError._FAIL, f"producer rebuilt after {error.str()}", retriable=True))

    def _call(self, method: str, timeout_s: float, *args: Any) -> Any:
        """``producer.method(*args, timeout_s)``, waited for at most ``timeout_s`` + STEP_MARGIN_S."""
        producer = self.producer
        try:
            return self._caller(lambda: getattr(producer, method)(*args, timeout_s), timeout_s + STEP_MARGIN_S)
        except NoAnswer:
            self._rebuild(f"{method} did not return within {timeout_s + STEP_MARGIN_S:.0f}s")
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"{method} stalled: producer rebuilt")) from None

    def _rebuild(self, why: str) -> None:
        """A new producer, initialised before the next batch; the batch in its transaction now is in doubt."""
        log.error("transactional producer abandoned: %s; a new one takes its transactional id", why)
        self.metrics.producer_rebuilds.inc()
        self._abandoned.append(self.producer)
        self._caller = _Caller()  # the old thread may never come back
        self.producer = self.make_producer()
        self.open = False
        self._initialised = False
        if self._batch is not None:
            self._unsure.update(self._batch.first)

    def _resync(self) -> None:
        """After the new producer's init (its predecessor's transaction is settled by then): read the committed
        offsets of the batch in doubt. If it did commit, this batch is dropped and read from them."""
        wanted = [TopicPartition(topic, partition) for topic, partition in self._unsure]
        committed = {
            (tp.topic, tp.partition): tp.offset
            for tp in self.consumer.committed(wanted, timeout=SEND_OFFSETS_TIMEOUT_S)
            if tp.offset >= 0
        }
        moved = {p: offset for p, offset in committed.items() if offset != self._unsure[p]}
        self._unsure = {}
        if moved:
            log.warning("the batch in doubt was committed after all: reading on from %s", partitions_text(moved))
            self._override = moved
            raise KafkaException(KafkaError(KafkaError._FAIL, "batch in doubt was committed", retriable=True))

    def settle(self, wait_s: float = 0.0) -> None:
        """Nothing to serve: a batch is durable when its call returns."""

    def rewind(self, first: dict[Partition, int]) -> dict[Partition, int]:
        rewind, self._override = {**first, **self._override}, {}
        return rewind

    def _commit(self) -> None:
        """commit_transaction, retried while librdkafka says the error is retriable (its documented use)."""
        for attempt in range(3):
            try:
                self._call("commit_transaction", COMMIT_TIMEOUT_S)
                return
            except KafkaException as exc:
                if not exc.args[0].retriable() or attempt == 2:
                    raise

    def _abort(self) -> None:
        try:
            self._call("abort_transaction", ABORT_TIMEOUT_S)
        except KafkaException as exc:
            if is_fatal(exc.args[0]):
                self._replace_broken(exc)
            if exc.args[0].code() != KafkaError._STATE:  # _STATE: nothing open any more
                raise  # still open: the next batch aborts it first
        self.open = False
        self.metrics.transactions.labels("aborted").inc()


class _InFlight:
    """One batch whose outputs are being delivered."""

    __slots__ = ("error", "span", "undelivered")

    def __init__(self, span: Span, outputs: int) -> None:
        self.span = span
        self.undelivered = outputs
        self.error: KafkaError | None = None

    def delivered(self, error: KafkaError | None, _msg: Message) -> None:
        self.undelivered -= 1
        if error is not None and self.error is None:
            self.error = error


class CommitWhenDelivered:
    """at_least_once without waiting for the broker in the loop. Waiting for each batch's deliveries and
    then committing synchronously cost two broker round trips per batch, which bounded both latency and
    throughput; here the deliveries are served as they come, and the offsets of the batches confirmed so
    far (in order: never past a batch still in flight) are committed asynchronously every
    ``commit_interval_s``, so a crash reads at most that much again. A failed delivery gives up every
    batch in flight: their first offsets are read again (at-least-once: some outputs may appear twice)."""

    def __init__(self, producer: Producer, consumer: Consumer, commit_interval_s: float) -> None:
        self.producer = producer
        self.consumer = consumer
        self.commit_interval_s = commit_interval_s
        self.in_flight: deque[_InFlight] = deque()
        self.confirmed: dict[Partition, int] = {}  # next offsets confirmed and not yet committed
        self.failure: KafkaError | None = None  # set from a failed delivery until abandoned() is read
        self.given_up: dict[Partition, int] = {}  # the first offsets of batches given up on in flight
        self.next_commit = 0.0

    def start(self) -> None:
        """Nothing to prepare: an idempotent producer needs no init."""

    def __call__(self, outputs: Sequence[Output], span: Span) -> None:
        if self.failure is not None:  # a failure found outside the loop (a revocation): rewind first
            raise KafkaException(self.failure)
        batch = _InFlight(span, len(outputs))
        self.in_flight.append(batch)
        produce_outputs(self.producer, outputs, batch.delivered)
        self.settle()

    def settle(self, wait_s: float = 0.0) -> None:
        if wait_s:
            self.producer.flush(wait_s)
        else:
            self.producer.poll(0)
        failure: KafkaError | None = None
        while self.in_flight and failure is None and (self.in_flight[0].undelivered <= 0 or wait_s):
            head = self.in_flight[0]
            if head.error is None and head.undelivered <= 0:
                self.confirmed.update(head.span.next)
                self.in_flight.popleft()
            else:
                failure = head.error or KafkaError(KafkaError._TIMED_OUT, "outputs not delivered in time")
                self._give_up(failure)
        if self.confirmed and (wait_s or failure or time.monotonic() >= self.next_commit):
            self._commit(synchronous=bool(wait_s or failure))
        if failure is not None:
            raise KafkaException(failure)

    def _give_up(self, error: KafkaError) -> None:
        self.failure = error
        for batch in self.in_flight:
            for partition, offset in batch.span.first.items():
                self.given_up[partition] = min(offset, self.given_up.get(partition, offset))
        self.in_flight.clear()

    def _commit(self, synchronous: bool) -> None:
        offsets, self.confirmed = _positions(self.confirmed), {}
        self.next_commit = time.monotonic() + self.commit_interval_s
        try:
            if synchronous:
                self.consumer.commit(offsets=offsets, asynchronous=False)
            else:
                self.consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:  # not fatal at-least-once: the next commit carries later offsets
            log.warning("could not commit offsets (%s): at worst their records are read again", error_text(exc))

    def rewind(self, first: dict[Partition, int]) -> dict[Partition, int]:
        rewind = dict(first)
        for partition, offset in self.given_up.items():
            rewind[partition] = min(offset, rewind.get(partition, offset))
        self.given_up, self.failure = {}, None
        return rewind
