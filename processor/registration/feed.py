"""The reference-data feed: the GlobalKTable pattern over the registration, party and device topics.

Every partition of the three topics is assigned (no consumer group, nothing committed to Kafka); each
batch is applied to Redis together with the next offset per partition (processor.registration.store
explains the atomicity), so a restart resumes exactly where the last applied batch ended and a
re-applied record changes nothing. Readiness: every partition has reached the end of the topic
(librdkafka's partition-EOF event, which comes from the broker's fetch response) since start-up.

No record stops the feed: one that cannot be decoded or applied is set aside in Redis
(``<prefix>:feed:rejected``, raw bytes and error), logged with topic/partition/offset and counted, and
the feed goes on. Anything else that ends the feed's loop is recorded in ``status.failed``; the
processor then stops deciding (a frozen registration view must never look ready).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition
from redis.exceptions import RedisError

from processor.avro import PLAIN, Serde
from processor.errors import DecodeError, TopicMissing
from processor.kafka.edge import DENIED, Denials, coordinates
from processor.names import DEFAULT_GROUP_ID, REFERENCE_BUILDING, REFERENCE_WHOLE, feed_group
from processor.observability.feed import FeedStatus
from processor.observability.logs import redis_denied_text
from processor.registration.changes import inventory_change, party_credential, registration_change
from processor.registration.devices import DeviceInventoryStore
from processor.registration.parties import PartyStore
from processor.registration.store import RegistrationStore

log = logging.getLogger(__name__)
REJECTED_KEEP = 10_000  # undecodable feed records kept in Redis, newest first, raw bytes included


BUILDING, WHOLE = REFERENCE_BUILDING, REFERENCE_WHOLE  # what the feed says Redis holds (see names.py)

Store = RegistrationStore | PartyStore | DeviceInventoryStore
Decoder = Callable[[bytes | None, bytes | None, Serde, str], Any]


class ReferenceFeed:
    in_process = True  # this process's own feed: its failures are this process's (see feed_status.py)

    def __init__(
        self,
        kafka_config: dict[str, Any],
        registrations_topic: str,
        parties_topic: str,
        registrations: RegistrationStore,
        parties: PartyStore,
        devices_topic: str,
        devices: DeviceInventoryStore,
        *,
        batch_size: int,  # its default: the settings' feed_batch_size
        on_batch: Callable[[FeedStatus], None] | None = None,
        serde: Serde = PLAIN,
        check_topics: Callable[[list[str]], None] | None = None,
    ) -> None:
        """``check_topics``: called with the reference topics at start, to refuse ones that lose history."""
        self.check_topics = check_topics
        self._config = {
            **kafka_config,
            # required by librdkafka, never joined
            "group.id": kafka_config.get("group.id", feed_group(DEFAULT_GROUP_ID)),
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
        # topic -> (its decoder, the attribute naming its store: read per batch, so a store can be swapped)
        self.topics: dict[str, tuple[Decoder, str]] = {
            registrations_topic: (registration_change, "registrations"),
            parties_topic: (party_credential, "parties"),
            devices_topic: (inventory_change, "devices"),
        }
        self.registrations = registrations
        self.parties = parties
        self.devices = devices
        self.status = FeedStatus()
        self.on_batch = on_batch  # called with the status after every batch (metrics)
        self._batch_size = batch_size
        self.serde = serde
        self._consumer: Consumer | None = None
        self._not_at_end: set[str] = set()
        self._denials = Denials("feed")  # what the broker will not let this principal read
        self._last_timestamp: dict[str, int] = {}
        self._positions: dict[str, int] = {}
        self._marked = b""

    def start(self) -> None:
        self._consumer = Consumer(self._config)
        # Not whole until caught up: mark it so before reading where to resume (data lost after this GET
        # takes the mark with it, and the first poll rebuilds).
        self._mark(BUILDING)
        stored = self.registrations.stored_offsets() | self.parties.stored_offsets() | self.devices.stored_offsets()
        assignment = []
        for topic in self.topics:
            metadata = self._consumer.list_topics(topic, timeout=30).topics[topic]
            if metadata.error is not None:
                raise TopicMissing(
                    f"reference topic {topic} is not available ({metadata.error.str()}): "
                    "create srguard's topics with 'srguard topics create'"
                )
            for partition in sorted(metadata.partitions):
                name = f"{topic}:{partition}"
                assignment.append(TopicPartition(topic, partition, stored.get(name, OFFSET_BEGINNING)))
                self._not_at_end.add(name)
        if self.check_topics is not None:
            self.check_topics(list(self.topics))
        self._consumer.assign(assignment)
        self.status.partitions = len(assignment)
        self.status.waiting_for = sorted(self._not_at_end)
        resumed = ", ".join(f"{name}@{offset}" for name, offset in sorted(stored.items())) or "the beginning"
        log.info("feed assigned %d partitions; resuming from %s", len(assignment), resumed)

    def _mark(self, state: bytes) -> None:
        """Say what Redis holds: BUILDING (set only where no mark is: another feed may have said WHOLE) or WHOLE."""
        client = self.registrations.client
        key = self.registrations.keys.reference_epoch
        if state == BUILDING:
            client.set(key, BUILDING, nx=True)
        else:  # a token per build: a processor that sees it change knows the data was rebuilt under it
            client.set(key, WHOLE + b":" + uuid.uuid4().hex.encode())
        self._marked = state

    def _check_whole(self) -> None:
        """Rebuild from the topics' beginning when Redis has lost its data (the mark went with it)."""
        assert self._consumer is not None
        if self.registrations.client.get(self.registrations.keys.reference_epoch) is not None:
            return
        log.error("reference data lost from Redis: rebuilding it from the beginning of the reference topics")
        self.status.ready = False
        self.status.rebuilds += 1
        self._mark(BUILDING)
        assignment = [TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING) for tp in self._consumer.assignment()]
        self._consumer.assign(assignment)
        self._not_at_end = {f"{tp.topic}:{tp.partition}" for tp in assignment}
        self._positions.clear()
        self._last_timestamp.clear()
        self.status.waiting_for = sorted(self._not_at_end)

    def poll(self, timeout: float = 0.5) -> int:
        """Consume and apply one batch; returns how many records were applied."""
        assert self._consumer is not None, "start() first"
        self.status.heartbeat = time.monotonic()  # alive: read by the processor's liveness check
        try:
            self._check_whole()
        except RedisError as exc:
            self._paused(exc)
            return 0
        messages = self._consumer.consume(self._batch_size, timeout)
        changes: dict[str, list[Any]] = {topic: [] for topic in self.topics}
        offsets: dict[str, dict[str, int]] = {topic: {} for topic in self.topics}
        rejected: list[bytes] = []
        first: dict[str, TopicPartition] = {}  # where to rewind to if Redis fails
        for msg in messages:
            error = msg.error()
            name = f"{msg.topic()}:{msg.partition()}"
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self._not_at_end.discard(name)
                    self._denials.readable(str(msg.topic()))
                elif error.code() in DENIED:  # a topic's, or (no topic) the group's: librdkafka looks it up
                    self._denials.refused(msg.topic() or f"group {self._config['group.id']}", error)
                else:
                    log.warning("feed consumer error on %s: %s", name, error)
                continue
            topic, partition, offset = coordinates(msg)
            self._denials.readable(topic)
            decode, _ = self.topics[topic]
            first.setdefault(name, TopicPartition(topic, partition, offset))
            offsets[topic][name] = offset + 1
            self._last_timestamp[name] = msg.timestamp()[1]
            try:
                changes[topic].append((msg, decode(msg.key(), msg.value(), self.serde, topic)))
            except Exception as exc:  # whatever a record holds, it is set aside: never the feed's end
                rejected.append(self._rejection(msg, exc))
        try:
            applied = 0
            for topic, (_, store) in self.topics.items():
                if changes[topic] or offsets[topic]:
                    applied += self._apply(getattr(self, store), changes[topic], offsets[topic], rejected)
            if rejected:
                self._keep_rejected(rejected)
        except RedisError as exc:
            # Nothing is lost: re-read the batch once Redis answers (re-applying is idempotent).
            for tp in first.values():
                self._consumer.seek(tp)
            self._paused(exc)
            return 0
        held = self._denials.held()  # a reference topic the broker refuses: nothing current can be said
        if self.status.paused_cause is not None and held is None:
            log.info("feed resumed after: %s", self.status.paused_cause)
        self.status.paused_cause = held
        self._positions.update({n: o for positions in offsets.values() for n, o in positions.items()})
        self._update_status(applied, len(rejected))
        return applied

    def _paused(self, exc: RedisError) -> None:
        cause = redis_denied_text(exc, "the feed") or f"redis unavailable: {exc}"
        if self.status.paused_cause is None:
            log.error("feed paused: %s; will retry", cause)
        self.status.paused_cause = cause

    def _apply(
        self,
        store: Store,
        changes: list[tuple[Message, Any]],
        offsets: dict[str, int],
        rejected: list[bytes],
    ) -> int:
        """Apply the batch in one round trip; should the store refuse it for anything but Redis itself,
        apply record by record so that only the records at fault are set aside. Returns records applied."""
        try:
            store.apply([change for _, change in changes], offsets)
            return len(changes)
        except RedisError:
            raise
        except Exception:
            log.warning("feed batch refused by the %s store: applying its %d records one by one", store, len(changes))
        applied = 0
        for msg, change in changes:
            try:
                store.apply([change])
                applied += 1
            except RedisError:
                raise
            except Exception as exc:
                rejected.append(self._rejection(msg, exc))
        store.apply([], offsets)
        return applied

    def _rejection(self, msg: Message, exc: Exception) -> bytes:
        error = str(exc) if isinstance(exc, DecodeError | ValueError) else f"{type(exc).__name__}: {exc}"
        log.error("feed record %s[%d]@%d set aside: %s", msg.topic(), msg.partition(), msg.offset(), error)
        return json.dumps(
            {
                "topic": msg.topic(),
                "partition": msg.partition(),
                "offset": msg.offset(),
                "error": error,
                "key": (msg.key() or b"").hex(),
                "value": (msg.value() or b"").hex(),
            }
        ).encode()

    def _keep_rejected(self, rejected: list[bytes]) -> None:
        key = self.registrations.keys.feed_rejected
        pipe = self.registrations.client.pipeline(transaction=False)
        pipe.lpush(key, *rejected)
        pipe.ltrim(key, 0, REJECTED_KEEP - 1)
        pipe.execute()

    def _update_status(self, applied: int, rejected: int) -> None:
        assert self._consumer is not None
        lag, oldest = 0, None
        for tp in self._consumer.assignment():
            name = f"{tp.topic}:{tp.partition}"
            _, high = self._consumer.get_watermark_offsets(tp, cached=True)
            position = self._positions.get(name)
            if high < 0 or position is None:
                continue
            behind = max(0, high - position)
            lag += behind
            if behind and name in self._last_timestamp:
                oldest = min(oldest or self._last_timestamp[name], self._last_timestamp[name])
        status = self.status
        status.applied += applied
        status.rejected += rejected
        status.lag_records = lag
        status.lag_seconds = max(0.0, time.time() - oldest / 1000) if oldest else 0.0
        status.waiting_for = sorted(self._not_at_end)
        status.ready = status.ready or not self._not_at_end
        if status.ready and self._marked != WHOLE:
            self._mark(WHOLE)  # every record up to the topics' ends is in Redis: processors may decide
        if self.on_batch:
            self.on_batch(status)

    def run(self, stop: threading.Event) -> None:
        if self._consumer is None:
            self.start()
        backoff = 0.5
        try:
            while not stop.is_set():
                self.poll()
                if self.status.paused_cause:
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                else:
                    backoff = 0.5
        except Exception as exc:
            self.status.failed = f"{type(exc).__name__}: {exc}"
            log.exception("reference feed stopped: %s", self.status.failed)
            if self.on_batch:
                self.on_batch(self.status)
        finally:
            self.close()

    def wait_ready(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Drive the feed (in this thread) until it has caught up, or the timeout."""
        if self._consumer is None:
            self.start()
        deadline = time.monotonic() + timeout
        while not self.status.ready and time.monotonic() < deadline and not (stop and stop.is_set()):
            self.poll()
            if self.status.paused_cause:
                time.sleep(1.0)
        return self.status.ready

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
