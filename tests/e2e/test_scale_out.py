"""Partitions added to the SR topic while two `srguard run` processes work (CreatePartitions): the new
partitions are picked up and every SR is decided exactly once."""

from __future__ import annotations

from collections import Counter

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions

from processor.avro import codec
from processor.devkit.simulate.publish import publish_traffic
from tests.e2e.srguard_process import PARTITIONS, SrguardRun, make_world

pytestmark = pytest.mark.e2e
GROWN = 6


def test_partitions_added_mid_stream_are_picked_up_and_every_sr_decided_once(
    kafka_bootstrap, redis_url, unique, tmp_path, broker_capabilities
):
    if not broker_capabilities.create_partitions.supported:
        pytest.skip(f"the broker refuses CreatePartitions: {broker_capabilities.create_partitions.evidence}")
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path, meter_points=600)
    traffic = world.traffic(4000, seed=21)
    first, second = traffic[:2000], traffic[2000:]
    env = {"SRGUARD_KAFKA_TOPIC_METADATA_REFRESH_INTERVAL_MS": "1000", "SRGUARD_BATCH_SIZE": "100"}
    runs = [SrguardRun(world, **env), SrguardRun(world, **env)]
    try:
        for run in runs:
            run.wait_ready()
        world.publish(first)
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        admin.create_partitions([NewPartitions(world.topics.requests, GROWN)])[world.topics.requests].result(30)
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 10})  # sees all six
        publish_traffic(producer, world.topics.requests, second)
        probe = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"probe-{unique}"})
        on_new = [
            probe.get_watermark_offsets(TopicPartition(world.topics.requests, p), 10)[1]
            for p in range(PARTITIONS, GROWN)
        ]
        probe.close()
        rejected_ids = {i.sr.request_id for i in traffic if i.rejected}
        accepted = world.outputs(world.topics.accepted, len(traffic) - len(rejected_ids), timeout=120)
        rejected = world.outputs(world.topics.rejected, len(rejected_ids), timeout=30)
        accepted = world.outputs(world.topics.accepted, len(accepted) + 1, timeout=5)  # one more is a duplicate
        assigned = [run.metric("srguard_rebalances_total") for run in runs]
    finally:
        codes = [run.stop() for run in runs]
    assert codes == [0, 0], [run.log.read_text()[-2000:] for run in runs]
    assert all(n > 0 for n in on_new) and all(assigned), (on_new, assigned)
    counts = Counter(codec("ServiceRequest").decode(m.value())["request_id"] for m in accepted)
    counts.update(codec("SrRejection").decode(m.value())["request_id"] for m in rejected)
    assert set(counts) == {i.sr.request_id for i in traffic}, "SRs on the new partitions were not decided"
    assert max(counts.values()) == 1, "an SR was decided twice"
    sources = {codec("SrRejection").decode(m.value())["source_partition"] for m in rejected}
    assert sources & set(range(PARTITIONS, GROWN)), "no rejection came from an added partition"
