"""Read a topic's records in a window of time: the history side (export, replay, report, ledger build).

Start offsets come from ``offsets_for_times``; every record is also filtered by its timestamp, so the
result is right even on a broker whose look-up is wrong (tansu answers 0: reading then starts at the
beginning and the filter does the work). Each partition is read to its end as it was when reading began
(librdkafka's partition-EOF event), because records need not be in time order: an archive replayed into
a topic interleaves partitions. Where the topic is known to be in time order (a live SR topic, stamped
on receipt), ``time_ordered`` ends a partition at its first record at/after ``until`` instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NamedTuple

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from processor.errors import HistoryIncomplete, TopicMissing
from processor.names import history_group


@dataclass
class PartitionPosition:
    """One partition's reading: offsets ``start`` .. ``end`` (its end when reading began); ``next`` to read."""

    start: int
    end: int
    next: int
    done: bool = False

    @property
    def read(self) -> int:
        return max(0, self.next - self.start)

    @property
    def total(self) -> int:
        return max(0, self.end - self.start)


class HistoryReader:
    """Batches of records with since <= timestamp < until from every partition, with each partition's
    position for progress and for ``resume``. ``commit`` stores the positions under the reader's group id."""

    def __init__(
        self,
        kafka_config: dict[str, Any],
        topic: str,
        since: int | None = None,
        until: int | None = None,
        *,
        time_ordered: bool = False,
        batch: int = 1000,
        idle_timeout: float = 30.0,
    ) -> None:
        self.topic, self.since, self.until = topic, since, until
        self.time_ordered, self.batch, self.idle_timeout = time_ordered, batch, idle_timeout
        self.consumer = Consumer(
            {
                **kafka_config,
                "group.id": kafka_config.get("group.id", history_group()),  # only ``commit`` ever commits
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "isolation.level": "read_committed",
            }
        )
        try:
            self.positions = self._positions()
        except BaseException:
            self.consumer.close()
            raise

    def _positions(self) -> dict[int, PartitionPosition]:
        metadata = self.consumer.list_topics(self.topic, timeout=30).topics.get(self.topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise TopicMissing(f"topic {self.topic} does not exist")
        positions = {}
        found = {}
        if self.since is not None:
            asked = [TopicPartition(self.topic, p, self.since) for p in sorted(metadata.partitions)]
            found = {tp.partition: tp.offset for tp in self.consumer.offsets_for_times(asked, timeout=30)}
        for partition in sorted(metadata.partitions):
            low, high = self.consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=30)
            # -1 from offsets_for_times: no record at or after ``since`` in that partition (Apache Kafka).
            start = found.get(partition, low)
            start = high if start < 0 else max(start, low)
            positions[partition] = PartitionPosition(start, high, start, done=start >= high)
        return positions

    def resume(self, offsets: dict[int, int]) -> None:
        """Start partitions where an earlier reader stopped (partition -> the next offset it would have read)."""
        for partition, offset in offsets.items():
            position = self.positions.get(partition)
            if position is not None:
                position.next = max(position.next, offset)
                position.done = position.next >= position.end

    @property
    def read(self) -> int:
        return sum(p.read for p in self.positions.values())

    @property
    def total(self) -> int:
        return sum(p.total for p in self.positions.values())

    def batches(self) -> Iterator[list[Message]]:
        open_partitions = {p for p, pos in self.positions.items() if not pos.done}
        self.consumer.assign([TopicPartition(self.topic, p, self.positions[p].next) for p in sorted(open_partitions)])
        idle = 0.0
        while open_partitions and idle < self.idle_timeout:
            messages = self.consumer.consume(self.batch, 0.5)
            idle = idle + 0.5 if not messages else 0.0
            selected = []
            for msg in messages:
                partition = msg.partition()
                assert partition is not None
                position = self.positions[partition]
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        self._close(partition, open_partitions)
                    continue
                if partition not in open_partitions:
                    continue
                position.next = msg.offset() + 1  # type: ignore[operator]
                stamp = msg.timestamp()[1]
                if self.until is not None and stamp >= self.until:
                    if self.time_ordered:
                        self._close(partition, open_partitions)
                    continue
                if self.since is None or stamp >= self.since:
                    selected.append(msg)
            if selected:
                yield selected
        if open_partitions:
            stuck = ", ".join(
                f"{p}@{self.positions[p].next} of {self.positions[p].end}" for p in sorted(open_partitions)
            )
            raise HistoryIncomplete(
                f"{self.topic}: no records for {self.idle_timeout:.0f} s before the end of partitions {stuck}"
            )

    def _close(self, partition: int, open_partitions: set[int]) -> None:
        open_partitions.discard(partition)
        position = self.positions[partition]
        position.next, position.done = max(position.next, position.end), True

    def committed(self) -> dict[int, tuple[int, str | None]]:
        """The group's stored positions: partition -> (next offset, metadata)."""
        asked = [TopicPartition(self.topic, p) for p in self.positions]
        return {
            tp.partition: (tp.offset, tp.metadata)
            for tp in self.consumer.committed(asked, timeout=30)
            if tp.offset >= 0
        }

    def stored(self, metadata: str) -> list[TopicPartition]:
        """The positions to store, each with ``metadata`` (what they mean)."""
        return [TopicPartition(self.topic, p, pos.next, metadata=metadata) for p, pos in self.positions.items()]

    def __enter__(self) -> HistoryReader:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.consumer.close()


def read_history(
    kafka_config: dict[str, Any],
    topic: str,
    since: int | None = None,
    until: int | None = None,
    resume: dict[int, int] | None = None,
) -> Iterator[list[Message]]:
    """Batches of records with since <= timestamp < until, from every partition, then stop."""
    with HistoryReader(kafka_config, topic, since, until) as reader:
        reader.resume(resume or {})
        yield from reader.batches()


class TimeSpan(NamedTuple):
    earliest: int
    latest: int
    read: int  # records whose timestamps were read
    total: int  # records the topic holds (by offsets)


def record_time_span(
    kafka_config: dict[str, Any], topic: str, budget_s: float = 5.0, timeout_s: float = 10.0
) -> TimeSpan | None:
    """The earliest and latest record timestamps of ``topic``, read from its start for at most ``budget_s``
    (a topic filled by replays is in no time order, so only reading tells): what an empty window's error names
    so the user sees what the topic does hold. ``read`` < ``total`` when the budget ran out first. None when
    the topic is empty, missing or does not answer."""
    consumer = Consumer(
        {**kafka_config, "group.id": history_group(), "enable.auto.commit": False, "enable.partition.eof": True}
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return None
        starts, total = [], 0
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            if high > low:
                starts.append(TopicPartition(topic, partition, low))
                total += high - low
        if not starts:
            return None
        consumer.assign(starts)
        earliest, latest, read, ended = None, None, 0, 0
        deadline = time.monotonic() + budget_s
        while ended < len(starts) and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.5):
                error = message.error()
                if error is not None:
                    ended += error.code() == KafkaError._PARTITION_EOF
                    continue
                stamp = message.timestamp()[1]
                read += 1
                earliest = stamp if earliest is None else min(earliest, stamp)
                latest = stamp if latest is None else max(latest, stamp)
        return TimeSpan(earliest, latest, read, total) if earliest is not None and latest is not None else None
    except KafkaException:
        return None
    finally:
        consumer.close()
