"""History reads seek by time on the broker (offsets_for_times): a window in the middle of a long topic
fetches nothing before the window."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer

from processor.kafka import reading
from processor.kafka.reading import read_history
from tests.kafka_io import create_topics

pytestmark = pytest.mark.integration
T0 = 1_600_000_000_000


def test_a_window_in_the_middle_of_a_long_topic_fetches_nothing_before_it(
    kafka_bootstrap, unique, monkeypatch, broker_capabilities
):
    if not broker_capabilities.offsets_for_times_exact.supported:
        pytest.skip(f"the broker's offsets_for_times is wrong: {broker_capabilities.offsets_for_times_exact.evidence}")
    topic = f"history-{unique}"
    create_topics(kafka_bootstrap, topic, partitions=1)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 20})
    for n in range(20_000):
        producer.produce(topic, f"r{n}".encode(), timestamp=T0 + n * 1000)
        if n % 5000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    fetched: list[int] = []

    class Recording(Consumer):
        def consume(self, num_messages=1, timeout=-1):
            messages = super().consume(num_messages, timeout)
            fetched.extend(m.offset() for m in messages if m.error() is None)
            return messages

    monkeypatch.setattr(reading, "Consumer", Recording)
    selected = [
        m
        for batch in read_history({"bootstrap.servers": kafka_bootstrap}, topic, T0 + 15_000_000, T0 + 15_100_000)
        for m in batch
    ]
    assert [m.offset() for m in selected] == list(range(15_000, 15_100))
    assert min(fetched) == 15_000, f"read from offset {min(fetched)}: the window was not sought by time"
