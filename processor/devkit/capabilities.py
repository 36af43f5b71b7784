"""Runtime probes of the Kafka behaviours srguard relies on.

srguard is written for Apache Kafka semantics. Some Kafka-protocol brokers (the embedded tansu)
deviate; each probe here runs a small experiment on the live broker and says whether the
behaviour holds, with the evidence. Tests use them to skip, with the reason, what a broker lacks,
and code paths that must be right on any broker (replay's timestamp filter) do not trust them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic


@dataclass(frozen=True)
class Verdict:
    supported: bool
    evidence: str


class BrokerCapabilities:
    """Probes are lazy and cached: one experiment per behaviour per broker per process."""

    def __init__(self, bootstrap: str, extra: dict[str, str] | None = None) -> None:
        self.bootstrap = bootstrap
        self._extra: dict[str, object] = dict(extra or {})
        self.admin = AdminClient(self._conf())

    def _conf(self, **more: object) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, **self._extra, **more}

    def new_topic(self, partitions: int = 1) -> str:
        name = f"srguard-probe-{uuid.uuid4().hex[:12]}"
        for future in self.admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result(timeout=15)
        return name

    def _produce(self, topic: str, values: list[bytes], timestamps: list[int] | None = None) -> None:
        producer = Producer(self._conf(**{"enable.idempotence": True}))
        for i, value in enumerate(values):
            producer.produce(topic, value, partition=0, timestamp=timestamps[i] if timestamps else 0)
        if producer.flush(15) != 0:
            raise KafkaException("probe produce did not complete")

    def _consume(
        self,
        topic: str,
        offset: int,
        *,
        isolation: str = "read_uncommitted",
        until: bytes | None = None,
        idle_s: float = 2.0,
    ) -> list[bytes]:
        consumer = Consumer(
            self._conf(
                **{
                    "group.id": f"probe-{uuid.uuid4().hex[:8]}",
                    "enable.auto.commit": False,
                    "isolation.level": isolation,
                }
            )
        )
        consumer.assign([TopicPartition(topic, 0, offset)])
        seen: list[bytes] = []
        deadline = time.monotonic() + idle_s
        try:
            while time.monotonic() < deadline:
                msg = consumer.poll(0.2)
                if msg is None or msg.error():
                    continue
                seen.append(msg.value() or b"")
                if until is not None and msg.value() == until:
                    break
        finally:
            consumer.close()
        return seen

    @cached_property
    def is_tansu(self) -> bool:
        """tansu reports its cluster id (default ``tansu_cluster``) in metadata."""
        return "tansu" in (self.admin.list_topics(timeout=10).cluster_id or "")

    @cached_property
    def read_committed_hides_aborted(self) -> Verdict:
        topic = self.new_topic()
        producer = Producer(self._conf(**{"transactional.id": f"probe-{uuid.uuid4().hex}"}))
        producer.init_transactions(15)
        producer.begin_transaction()
        producer.produce(topic, b"aborted", partition=0)
        producer.flush(15)
        producer.abort_transaction(15)
        producer.begin_transaction()
        producer.produce(topic, b"committed", partition=0)
        producer.commit_transaction(15)
        seen = self._consume(topic, OFFSET_BEGINNING, isolation="read_committed", until=b"committed", idle_s=10)
        if b"committed" not in seen:
            return Verdict(False, f"read_committed consumer never saw the committed record (saw {seen})")
        return Verdict(b"aborted" not in seen, f"read_committed consumer saw {seen}")

    @cached_property
    def high_watermark_exact(self) -> Verdict:
        topic = self.new_topic()
        self._produce(topic, [b"a", b"b", b"c"])
        consumer = Consumer(self._conf(**{"group.id": f"probe-{uuid.uuid4().hex[:8]}"}))
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
        finally:
            consumer.close()
        return Verdict(high == 3, f"3 records produced; get_watermark_offsets() returned low={low} high={high}")

    @cached_property
    def offset_end_skips_existing(self) -> Verdict:
        topic = self.new_topic()
        self._produce(topic, [b"old-1", b"old-2"])
        seen = self._consume(topic, OFFSET_END, idle_s=3)
        return Verdict(not seen, f"consumer assigned at OFFSET_END received {seen}")

    @cached_property
    def offsets_for_times_exact(self) -> Verdict:
        topic = self.new_topic()
        base = int(time.time() * 1000) - 60_000
        self._produce(topic, [b"t0", b"t1", b"t2"], [base, base + 1000, base + 2000])
        consumer = Consumer(self._conf(**{"group.id": f"probe-{uuid.uuid4().hex[:8]}"}))
        try:
            found = consumer.offsets_for_times([TopicPartition(topic, 0, base + 1000)], timeout=10)
        finally:
            consumer.close()
        offset = found[0].offset
        return Verdict(offset == 1, f"2nd of 3 timestamps looked up; offsets_for_times() returned {offset}")

    @cached_property
    def create_partitions(self) -> Verdict:
        topic = self.new_topic()
        try:
            self.admin.create_partitions([NewPartitions(topic, 2)])[topic].result(timeout=15)
        except KafkaException as exc:
            return Verdict(False, f"CreatePartitions failed: {exc.args[0]}")
        # The new partition reaches the metadata a moment after the call returns: look a few times.
        for _ in range(20):
            count = len(self.admin.list_topics(topic, timeout=10).topics[topic].partitions)
            if count == 2:
                break
            time.sleep(0.25)
        return Verdict(count == 2, f"after CreatePartitions(2) the topic has {count} partition(s)")
