"""``srguard run``: the consume -> judge -> produce loop at the Kafka edges.

exactly_once: one transactional producer per process; each batch's outputs and its input offsets are
one transaction, aborted and rewound on failure; a fenced producer stops the process (a newer
instance owns the work). at_least_once: outputs are handed to the producer without waiting, and offsets
are committed once their batch's outputs are confirmed delivered. Both strategies: ``stream/commit.py``.

Infrastructure failures (Redis, the broker) are never rejections: the batch is rewound and the loop
waits with backoff, taking nothing new, until the dependency answers again (it keeps its partitions:
nothing calls the consumer's pause()). Any failure inside a transaction aborts it before the rewind, so
nothing is left open.

Liveness: the loop and the reference feed each leave a heartbeat; /healthz and /readyz fail when
either is older than ``liveness_timeout_s``, and a feed that has stopped stops the processor
(FeedStopped, a documented exit code): nothing is ever decided on a frozen registration view.
"""

from __future__ import annotations

import logging
import threading
import time
from enum import StrEnum

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from redis.exceptions import RedisError

from processor.config import Settings
from processor.errors import FeedStopped, ReferenceLost
from processor.kafka.edge import DENIED, DENIED_PREFIX, denied_text, error_text, take_batch, to_inputs
from processor.kafka.records import Input, partitions_text, span_of
from processor.observability.feed import FeedView, feed_stalled, waiting_text
from processor.observability.logs import recent_denial, redis_denied_text
from processor.observability.metrics import Metrics
from processor.stream.commit import Durable, fenced, is_fatal
from processor.stream.dlq import DlqGuard, DlqPolicy
from processor.stream.judge import Judge

log = logging.getLogger(__name__)


READY_STALL_S = 10.0  # a loop iteration's longest legitimate time (a batch, a commit, a backoff is paused anyway)


def _logged_denial(exc: Exception) -> str | None:
    """A Kafka error whose cause librdkafka only logged: the broker refusing part of the transaction."""
    seen = recent_denial() if isinstance(exc, KafkaException) else None
    if seen is None:
        return None
    return f"{DENIED_PREFIX} ({seen}): grant it ('srguard acls --principal User:<name> --for run' lists what run needs)"


class PauseCause(StrEnum):
    """Why the loop waits instead of deciding: the label of srguard_paused and srguard_infrastructure_pauses."""

    REDIS = "redis"
    KAFKA = "kafka"
    FEED_LAG = "feed_lag"
    REFERENCE_LOST = "reference_lost"
    PERMISSION = "permission"  # the broker denied an operation: an ACL is missing


DENIAL_QUIET_S = 10.0  # a consumer's permission pause ends after this long assigned without a denial
JOIN_REPORT_EVERY_S = 5.0  # how often a group join that has not assigned partitions yet is reported
SETTLE_WAIT_S = 10.0  # how long revoking partitions or closing waits for outputs in flight to be delivered


class SrProcessor:
    """The loop. It receives its Kafka clients (built by processor.wiring): the consumer, subscribed here, and
    the strategy that makes each batch durable with that consumer's offsets (stream/commit.py)."""

    def __init__(
        self,
        settings: Settings,
        judge: Judge,
        metrics: Metrics,
        dlq_policy: DlqPolicy,
        consumer: Consumer,
        durable: Durable,
        feed: FeedView | None = None,
    ) -> None:
        self.settings = settings
        self.judge = judge
        self.metrics = metrics
        self.feed = feed
        self.dlq = DlqGuard(dlq_policy)
        self.assigned: set[tuple[str, int]] = set()
        self.paused_cause: str | None = None
        self._denied: KafkaException | None = None  # the consumer's last authorization error, until paused on
        self._denied_at = 0.0  # time.monotonic() of the last one
        self.batches = 0
        self.rebalances = 0  # assignments and revocations so far: a batch taken across one is given back
        self.heartbeat = time.monotonic()  # the loop's: end of its last iteration
        self._started = False  # the loop has begun (before it, the feed's catch-up holds readiness)
        self._joining = 0.0  # time.monotonic() of the subscribe, until the first assignment
        self._next_join_report = JOIN_REPORT_EVERY_S
        self._consumer = consumer
        self._durable = durable

    # -- readiness -------------------------------------------------------------------------------
    def liveness(self) -> tuple[bool, str]:
        """Whether the loop and the feed still move: /healthz, for an orchestrator to restart a stuck process."""
        bound = self.settings.liveness_timeout_s
        stalled = time.monotonic() - self.heartbeat
        if stalled > bound:
            return False, f"processing loop stalled for {stalled:.0f}s (bound {bound:.0f}s)"
        if self.feed is None or not self.feed.in_process:  # a feed elsewhere: restarting us would not help
            return True, "ok"
        if self.feed.status.failed:
            return False, f"reference feed stopped: {self.feed.status.failed}"
        feed_stalled = self._feed_stalled()
        return (False, feed_stalled) if feed_stalled else (True, "ok")

    def _feed_stalled(self) -> str | None:
        return None if self.feed is None else feed_stalled(self.feed.status, self.settings.liveness_timeout_s)

    def readiness(self) -> tuple[bool, str]:
        alive, why = self.liveness()
        if not alive:
            return False, why
        feed_stalled = self._feed_stalled()
        if feed_stalled:
            return False, feed_stalled
        if self.feed is not None and not self.feed.status.ready:
            return False, waiting_text(self.feed.status)
        if self.paused_cause:
            return False, f"paused: {self.paused_cause}"
        stalled = time.monotonic() - self.heartbeat  # a paused loop waits on purpose: checked after that
        if self._started and stalled > READY_STALL_S:  # inside one call too long: not ready long before /healthz
            return False, f"processing loop stalled for {stalled:.0f}s inside one step"
        if not self.assigned:
            return False, "no partitions assigned"
        caveat = ""
        if self.settings.trust_store is None:
            caveat = "; certificate issuers are NOT checked (no trust store)"
        return True, f"ready: {len(self.assigned)} partitions assigned{caveat}"

    # -- callbacks -------------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.metrics.rebalances.labels("assign").inc()
        self.rebalances += 1
        self.assigned |= {(tp.topic, tp.partition) for tp in partitions}
        waited = f" after {time.monotonic() - self._joining:.1f}s" if self._joining else ""
        self._joining = 0.0
        fields = {"partitions": [list(p) for p in sorted(self.assigned)]}
        log.info(
            "assigned %d partitions%s: %s",
            len(self.assigned),
            waited,
            partitions_text(self.assigned),
            extra={"fields": fields},
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Revocation happens inside consume(): batches complete (commit or abort) before the next one is
        # taken, and a batch whose taking straddled this call is given back (_next_messages).
        self.metrics.rebalances.labels("revoke").inc()
        self.rebalances += 1
        self._settle(SETTLE_WAIT_S)  # at-least-once: commit what was delivered while the partitions are ours
        self.assigned -= {(tp.topic, tp.partition) for tp in partitions}

    # -- the loop --------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        self._durable.start()
        self._consumer.subscribe(
            [self.settings.topics.requests],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        self._joining = time.monotonic()
        log.info("joining consumer group %s on %s", self.settings.group_id, self.settings.topics.requests)
        backoff = 0.5
        try:
            self._started = True
            while not stop.is_set():
                self.heartbeat = time.monotonic()
                batch = self._inputs(self._next_messages())
                if self._denied is not None and not batch:  # e.g. Read on the input or the group taken away
                    denial, self._denied = self._denied, None
                    self._pause([], PauseCause.PERMISSION, denied_text(denial) or str(denial))
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                # After taking the batch: a feed that stopped while we waited must not see it decided.
                if self.feed is not None and self.feed.status.failed:
                    raise FeedStopped(f"the reference feed stopped ({self.feed.status.failed}): restart srguard")
                self.metrics.ready.set(1 if self.readiness()[0] else 0)
                stale = self._stale_feed() if batch else None
                if stale:
                    self._pause(batch, PauseCause.FEED_LAG, stale)
                    stop.wait(0.5)
                    continue
                try:
                    if batch:
                        self._process(batch)
                        backoff = 0.5
                        self._resume()
                    else:
                        self._report_joining()
                        self._durable.settle()  # deliveries are confirmed and offsets committed while idle too
                        granted = time.monotonic() - self._denied_at > DENIAL_QUIET_S and self.assigned
                        if granted and self.paused_cause and self.paused_cause.startswith(DENIED_PREFIX):
                            self._resume()  # assigned, and no denial for a while: the grant is back
                except ReferenceLost as exc:  # no decision on a half-empty Redis: wait for the feed's rebuild
                    self._pause(batch, PauseCause.REFERENCE_LOST, str(exc))
                    stop.wait(0.5)
                except (RedisError, KafkaException) as exc:
                    if isinstance(exc, KafkaException) and is_fatal(exc.args[0]):
                        raise fenced(exc) from exc
                    cause = PauseCause.REDIS if isinstance(exc, RedisError) else PauseCause.KAFKA
                    # an ACL missing: granted, srguard goes on
                    denied = denied_text(exc) or redis_denied_text(exc, "run") or _logged_denial(exc)
                    self._pause(
                        batch, PauseCause.PERMISSION if denied else cause, denied or f"{cause} unavailable: {exc}"
                    )
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
        finally:
            self.close()

    def _next_messages(self) -> list[Message]:
        """A batch, or none when a rebalance came while it was taken: take_batch consumes twice, and a
        rebalance in the second call restarts positions after the first record was taken, so that record
        could be taken again or be decided by the partition's new owner too (the scale-out test caught an
        SR decided twice). The records are given back: the partitions still ours are rewound to them."""
        before = self.rebalances
        messages = take_batch(self._consumer, self.settings.batch_size, self.settings.batch_wait_s)
        if self.rebalances == before or not messages:
            return messages
        given_back = to_inputs(messages)
        self._rewind(given_back)
        log.info("a rebalance came while a batch was taken: %d records given back", len(given_back))
        return []

    def _inputs(self, messages: list[Message]) -> list[Input]:
        for msg in messages:  # errors are rare: look for them first, then build the batch in one pass
            error = msg.error()
            if error is not None and error.code() in DENIED:
                self._denied, self._denied_at = KafkaException(error), time.monotonic()
            elif error is not None and error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", error)
        return to_inputs(messages)

    def _process(self, batch: list[Input]) -> None:
        started = time.perf_counter()
        result = self.judge(batch)
        self.dlq.observe(result.dead)
        self._durable(result.outputs, span_of(batch))
        elapsed = time.perf_counter() - started
        result.count(self.metrics, len(batch), elapsed)
        self.batches += 1

    def _report_joining(self) -> None:
        """A group join can take a while (the group waits for members to rejoin or time out): say so."""
        if not self._joining or self.assigned:
            return
        waited = time.monotonic() - self._joining
        if waited >= self._next_join_report:
            self._next_join_report = waited + JOIN_REPORT_EVERY_S
            log.info(
                "still joining consumer group %s (%.0fs): the coordinator waits for the group's other members "
                "to rejoin or pass session.timeout.ms",
                self.settings.group_id,
                waited,
            )

    def _stale_feed(self) -> str | None:
        """Why the registration view is too stale to judge by, or None. Raises FeedStopped."""
        if self.feed is None:
            return None
        status, s = self.feed.status, self.settings
        feed_stalled = self._feed_stalled()
        if feed_stalled:
            return feed_stalled
        if status.paused_cause:  # its lag cannot be known: nothing is judged on data it may not keep current
            return f"reference feed held: {status.paused_cause}"
        if status.lag_seconds > s.feed_max_lag_seconds or status.lag_records > s.feed_max_lag_records:
            return (
                f"reference feed is {status.lag_records} records / {status.lag_seconds:.0f}s behind "
                f"(bounds {s.feed_max_lag_records} records / {s.feed_max_lag_seconds:.0f}s)"
            )
        return None

    def _rewind(self, batch: list[Input]) -> None:
        """Seek each partition still assigned back to the batch's first record from it, or further back to
        batches given up on in flight (a failed delivery), so nothing is lost."""
        for (topic, partition), offset in self._durable.rewind(span_of(batch).first).items():
            if (topic, partition) in self.assigned:
                self._consumer.seek(TopicPartition(topic, partition, offset))

    def _pause(self, batch: list[Input], cause: PauseCause, why: str) -> None:
        """Rewind the batch so nothing is lost, and say why the loop waits (metrics, readiness)."""
        self._rewind(batch)
        if self.paused_cause is None:
            log.error("pausing: %s; will retry", why)
            self.metrics.pauses.labels(cause).inc()
            self.metrics.paused.labels(cause).set(1)
        self.paused_cause = why
        self.metrics.ready.set(0)

    def _resume(self) -> None:
        if self.paused_cause is not None:
            log.info("resuming after: %s", self.paused_cause)
            for cause in PauseCause:
                self.metrics.paused.labels(cause).set(0)
            self.paused_cause = None

    def _settle(self, wait_s: float) -> None:
        """Wait for outputs in flight and commit what was delivered; what was not is read again."""
        try:
            self._durable.settle(wait_s)
        except KafkaException as exc:
            log.warning("outputs in flight not all delivered (%s): their SRs are read again", error_text(exc))

    def close(self) -> None:
        try:
            self._settle(SETTLE_WAIT_S)
            self._consumer.close()
        finally:
            self._durable.producer.flush(10)
