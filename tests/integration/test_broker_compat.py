"""The Kafka behaviours srguard relies on, one test each, on whatever broker the session uses.

On Apache Kafka every test runs. On tansu the known deviations are detected by a runtime probe
(processor.devkit.capabilities) and skipped with the probe's evidence; the assertions are the
Apache Kafka ones, never weakened.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from processor.devkit.capabilities import BrokerCapabilities, Verdict
from tests.kafka_io import FAST_GROUP, create_topics, produce, read_all

pytestmark = pytest.mark.integration


def _require(verdict: Verdict) -> None:
    if not verdict.supported:
        pytest.skip(f"broker deviation (probed): {verdict.evidence}")


def _group_consumer(bootstrap: str, group: str, **conf: object) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            **FAST_GROUP,
            **conf,
        }
    )


def _poll_values(consumer: Consumer, count: int, timeout: float = 30.0) -> list[bytes]:
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(values) < count and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is not None and not msg.error():
            values.append(msg.value())
    return values


def test_consumer_group_manual_commit_and_resume(kafka_bootstrap, unique):
    topic, group = f"compat-group-{unique}", f"g-{unique}"
    create_topics(kafka_bootstrap, topic)
    produce(kafka_bootstrap, topic, [(None, f"v{i}".encode()) for i in range(6)])

    first = _group_consumer(kafka_bootstrap, group)
    first.subscribe([topic])
    assert _poll_values(first, 3) == [b"v0", b"v1", b"v2"]
    first.commit(asynchronous=False)
    committed = first.committed([TopicPartition(topic, 0)], timeout=10)
    assert committed[0].offset == 3
    first.close()

    second = _group_consumer(kafka_bootstrap, group)
    second.subscribe([topic])
    assert _poll_values(second, 3) == [b"v3", b"v4", b"v5"]
    second.close()


def test_idempotent_producer_keeps_order_without_duplicates(kafka_bootstrap, unique):
    topic = f"compat-idem-{unique}"
    create_topics(kafka_bootstrap, topic)
    values = [f"{i:04d}".encode() for i in range(500)]
    produce(kafka_bootstrap, topic, [(None, v) for v in values], **{"enable.idempotence": True, "acks": "all"})
    assert [m.value() for m in read_all(kafka_bootstrap, topic, len(values))] == values


def test_transaction_commit_is_visible_to_read_committed(kafka_bootstrap, unique):
    topic = f"compat-txn-{unique}"
    create_topics(kafka_bootstrap, topic)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": f"t-{unique}"})
    producer.init_transactions(15)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, f"c{i}".encode())
    producer.commit_transaction(15)
    found = read_all(kafka_bootstrap, topic, 3, isolation="read_committed")
    assert [m.value() for m in found] == [b"c0", b"c1", b"c2"]


def test_send_offsets_to_transaction_commits_group_offsets(kafka_bootstrap, unique):
    source, sink, group = f"compat-eos-in-{unique}", f"compat-eos-out-{unique}", f"g-{unique}"
    create_topics(kafka_bootstrap, source, sink)
    produce(kafka_bootstrap, source, [(None, b"x"), (None, b"y")])
    consumer = _group_consumer(kafka_bootstrap, group)
    consumer.subscribe([source])
    msgs = []
    deadline = time.monotonic() + 30
    while len(msgs) < 2 and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is not None and not msg.error():
            msgs.append(msg)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": f"t-{unique}"})
    producer.init_transactions(15)
    producer.begin_transaction()
    for msg in msgs:
        producer.produce(sink, msg.value())
    producer.send_offsets_to_transaction(
        consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 15
    )
    producer.commit_transaction(15)
    assert consumer.committed([TopicPartition(source, 0)], timeout=10)[0].offset == 2
    consumer.close()


def test_read_committed_hides_aborted_transactions(kafka_bootstrap, broker_capabilities: BrokerCapabilities, unique):
    _require(broker_capabilities.read_committed_hides_aborted)
    topic = f"compat-abort-{unique}"
    create_topics(kafka_bootstrap, topic)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": f"t-{unique}"})
    producer.init_transactions(15)
    for round_ in range(3):
        producer.begin_transaction()
        producer.produce(topic, f"aborted-{round_}".encode())
        producer.flush(15)
        producer.abort_transaction(15)
        producer.begin_transaction()
        producer.produce(topic, f"kept-{round_}".encode())
        producer.commit_transaction(15)
    found = read_all(kafka_bootstrap, topic, 6, timeout=8, isolation="read_committed")
    assert [m.value() for m in found] == [b"kept-0", b"kept-1", b"kept-2"]


def test_zombie_producer_is_fenced(kafka_bootstrap, unique):
    topic = f"compat-fence-{unique}"
    create_topics(kafka_bootstrap, topic)
    conf = {"bootstrap.servers": kafka_bootstrap, "transactional.id": f"t-{unique}"}
    zombie = Producer(conf)
    zombie.init_transactions(15)
    zombie.begin_transaction()
    zombie.produce(topic, b"zombie")
    zombie.flush(15)
    successor = Producer(conf)
    successor.init_transactions(15)  # bumps the epoch: the zombie is fenced
    with pytest.raises(KafkaException) as raised:
        zombie.produce(topic, b"zombie-2")
        zombie.commit_transaction(15)
    error: KafkaError = raised.value.args[0]
    assert (
        error.fatal()
        or error.txn_requires_abort()
        or error.code() in {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}
    )


def test_headers_and_create_time_round_trip(kafka_bootstrap, unique):
    topic = f"compat-headers-{unique}"
    create_topics(kafka_bootstrap, topic)
    stamp = int(time.time() * 1000) - 3_600_000
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topic, b"v", b"k", headers=[("srguard-outcome", b"accepted"), ("empty", b"")], timestamp=stamp)
    assert producer.flush(15) == 0
    (msg,) = read_all(kafka_bootstrap, topic, 1)
    assert msg.key() == b"k"
    assert dict(msg.headers()) == {"srguard-outcome": b"accepted", "empty": b""}
    assert msg.timestamp() == (TIMESTAMP_CREATE_TIME, stamp)


def test_high_watermark_from_broker(kafka_bootstrap, broker_capabilities: BrokerCapabilities, unique):
    _require(broker_capabilities.high_watermark_exact)
    topic = f"compat-hw-{unique}"
    create_topics(kafka_bootstrap, topic)
    produce(kafka_bootstrap, topic, [(None, b"x")] * 7)
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"g-{unique}"})
    assert consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False) == (0, 7)
    consumer.close()


def test_cached_high_watermark_after_fetch(kafka_bootstrap, unique):
    """srguard reads lag from cached watermarks (fetch responses): this must hold on any broker."""
    topic = f"compat-hwc-{unique}"
    create_topics(kafka_bootstrap, topic)
    produce(kafka_bootstrap, topic, [(None, b"x")] * 5)
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"g-{unique}", "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    deadline = time.monotonic() + 20
    eof = False
    while not eof and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        eof = msg is not None and msg.error() is not None and msg.error().code() == KafkaError._PARTITION_EOF
    assert eof, "partition EOF was never reported"
    assert consumer.get_watermark_offsets(TopicPartition(topic, 0), cached=True)[1] == 5
    consumer.close()


def test_offset_end_starts_after_existing_records(kafka_bootstrap, broker_capabilities: BrokerCapabilities, unique):
    _require(broker_capabilities.offset_end_skips_existing)
    topic = f"compat-end-{unique}"
    create_topics(kafka_bootstrap, topic)
    produce(kafka_bootstrap, topic, [(None, b"old")] * 3)
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"g-{unique}"})
    consumer.assign([TopicPartition(topic, 0, OFFSET_END)])
    consumer.poll(2)
    produce(kafka_bootstrap, topic, [(None, b"new")])
    assert _poll_values(consumer, 1, timeout=15) == [b"new"]
    consumer.close()


def test_offsets_for_times(kafka_bootstrap, broker_capabilities: BrokerCapabilities, unique):
    _require(broker_capabilities.offsets_for_times_exact)
    topic = f"compat-oft-{unique}"
    create_topics(kafka_bootstrap, topic)
    base = int(time.time() * 1000) - 600_000
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(5):
        producer.produce(topic, f"{i}".encode(), timestamp=base + i * 10_000)
    producer.flush(15)
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"g-{unique}"})
    found = consumer.offsets_for_times([TopicPartition(topic, 0, base + 25_000)], timeout=10)
    assert found[0].offset == 3  # first record at or after the timestamp
    consumer.close()


def test_create_partitions(broker_capabilities: BrokerCapabilities):
    verdict = broker_capabilities.create_partitions
    _require(verdict)
    assert "2 partition" in verdict.evidence


def test_probes_name_every_known_tansu_deviation(broker_capabilities: BrokerCapabilities):
    """On tansu all five documented deviations must be detected; on Apache Kafka none may be."""
    verdicts = {
        "read_committed_hides_aborted": broker_capabilities.read_committed_hides_aborted,
        "high_watermark_exact": broker_capabilities.high_watermark_exact,
        "offset_end_skips_existing": broker_capabilities.offset_end_skips_existing,
        "offsets_for_times_exact": broker_capabilities.offsets_for_times_exact,
        "create_partitions": broker_capabilities.create_partitions,
    }
    for name, verdict in verdicts.items():
        assert verdict.evidence, name
    if broker_capabilities.is_tansu:
        assert not any(v.supported for v in verdicts.values()), verdicts
    else:  # Apache Kafka: every capability srguard relies on holds
        assert all(v.supported for v in verdicts.values()), verdicts
