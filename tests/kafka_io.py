"""Small real-broker helpers shared by integration and e2e tests."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

# tansu makes the first group join wait half the session timeout: keep it short in tests.
FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def create_topics(bootstrap: str, *names: str, partitions: int = 1, config: dict[str, str] | None = None) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(n, partitions, 1, config=config or {}) for n in names])
    for future in futures.values():
        future.result(timeout=15)


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None]], **conf: object) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, **conf})
    for key, value in records:
        producer.produce(topic, value, key)
    assert producer.flush(30) == 0, "not every record was delivered"


def read_all(
    bootstrap: str,
    topic: str,
    expect: int,
    *,
    timeout: float = 30.0,
    partitions: int = 1,
    isolation: str = "read_uncommitted",
) -> list[Message]:
    """Read from the beginning of every partition until ``expect`` records or the timeout."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    found: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < expect and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.2):
                if not msg.error():
                    found.append(msg)
    finally:
        consumer.close()
    return found
