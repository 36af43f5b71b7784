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
from tests.kafka_io import read_all

pytestmark = pytest.mark.e2e
GROWN = 6


def _where(twice: set[str], decided: list, world) -> str:
    """Names each output and input record of the SRs decided twice, so a failure says whether the input
    held the SR twice (publishing) or one input was decided twice (processing)."""
    inputs = read_all(world.kafka, world.topics.requests, 4000, timeout=30, partitions=GROWN)
    lines = [f"decided twice: {sorted(twice)}"]
    for request_id, m in decided:
        if request_id in twice:
            lines.append(f"  out {m.topic()} p{m.partition()}@{m.offset()} ts={m.timestamp()[1]} {request_id}")
    for m in inputs:
        request_id = codec("ServiceRequest").decode(m.value())["request_id"]
        if request_id in twice:
            lines.append(f"  in {m.topic()} p{m.partition()}@{m.offset()} ts={m.timestamp()[1]} {request_id}")
    return "\n".join(lines)


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
    decided = [(codec("ServiceRequest").decode(m.value())["request_id"], m) for m in accepted]
    decided += [(codec("SrRejection").decode(m.value())["request_id"], m) for m in rejected]
    counts = Counter(request_id for request_id, _ in decided)
    assert set(counts) == {i.sr.request_id for i in traffic}, "SRs on the new partitions were not decided"
    twice = {request_id for request_id, n in counts.items() if n > 1}
    assert not twice, _where(twice, decided, world)
    sources = {codec("SrRejection").decode(m.value())["source_partition"] for m in rejected}
    assert sources & set(range(PARTITIONS, GROWN)), "no rejection came from an added partition"
