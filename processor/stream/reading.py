"""Read a topic from a point in time to its end: the history side (export, replay, report).

Start offsets come from ``offsets_for_times``; every record is also filtered by its timestamp, so the
result is right even on a broker whose look-up is wrong (tansu answers 0: reading then starts at the
beginning and the filter does the work). The end is each partition's end at the time of reading
(librdkafka's partition-EOF event) or, with ``until``, the first record past it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from processor.names import history_group


class TopicMissing(LookupError):
    pass


def read_history(
    kafka_config: dict[str, Any],
    topic: str,
    since: int | None = None,
    until: int | None = None,
    batch: int = 1000,
    idle_timeout: float = 30.0,
    resume: dict[int, int] | None = None,
) -> Iterator[list[Message]]:
    """Batches of records with since <= timestamp < until, from every partition, then stop.

    ``resume`` (partition -> next offset) starts those partitions where an earlier reader stopped.
    """
    consumer = Consumer(
        {
            **kafka_config,
            "group.id": kafka_config.get("group.id", history_group()),  # never committed
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=30).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise TopicMissing(f"topic {topic} does not exist")
        partitions = sorted(metadata.partitions)
        starts = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions]
        if since is not None:
            found = consumer.offsets_for_times([TopicPartition(topic, p, since) for p in partitions], timeout=30)
            # -1: no record at or after `since` in that partition (Apache Kafka): nothing to read there.
            starts = [tp if tp.offset >= 0 else None for tp in found]  # type: ignore[misc]
        if resume:
            starts = [
                TopicPartition(topic, tp.partition, resume[tp.partition])
                if tp is not None and tp.partition in resume
                else tp
                for tp in starts
            ]
        open_partitions = {tp.partition for tp in starts if tp is not None}
        consumer.assign([tp for tp in starts if tp is not None])
        idle = 0.0
        while open_partitions and idle < idle_timeout:
            messages = consumer.consume(batch, 0.5)
            idle = idle + 0.5 if not messages else 0.0
            selected = []
            for msg in messages:
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        open_partitions.discard(msg.partition())
                    continue
                if msg.partition() not in open_partitions:
                    continue
                stamp = msg.timestamp()[1]
                if until is not None and stamp >= until:
                    open_partitions.discard(msg.partition())
                    continue
                if since is None or stamp >= since:
                    selected.append(msg)
            if selected:
                yield selected
    finally:
        consumer.close()
