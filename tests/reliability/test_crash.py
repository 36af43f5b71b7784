"""SIGKILL `srguard run` again and again while it works: nothing is lost, nothing is decided twice.

Duplicates: none on a broker whose read_committed consumers hide aborted transactions. On one that
does not (tansu, probed), a batch aborted by a kill shows up next to its committed re-run; each such
duplicate must be an exact copy (same output topic, key and value, or the same source offset for a
rejection) and there can be no more of them than the killed processes' open batches could hold.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict

import pytest

from processor.avro import codec
from processor.devkit.capabilities import BrokerCapabilities
from tests.e2e.srguard_process import SrguardRun, make_world

pytestmark = pytest.mark.integration
BATCH = 50


def _request_id(topic_kind: str, value: bytes) -> str:
    schema = "SrRejection" if topic_kind == "rejected" else "ServiceRequest"
    return codec(schema).decode(value)["request_id"]


def test_sigkill_at_random_points_loses_nothing(
    kafka_bootstrap, redis_url, unique, tmp_path, broker_capabilities: BrokerCapabilities
):
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path)
    traffic = world.traffic(7 * 1500, seed=11)
    chunks = [traffic[i : i + 1500] for i in range(0, len(traffic), 1500)]  # new work before every run
    rng = random.Random(unique)
    # A stable transactional id, as a StatefulSet gives: each restart aborts its predecessor's open batch.
    env = {
        "SRGUARD_TRANSACTIONAL_ID": f"crash-{unique}",
        "SRGUARD_BATCH_SIZE": str(BATCH),
        "SRGUARD_KAFKA_GROUP_INSTANCE_ID": f"crash-{unique}",
    }
    world.publish(chunks[0])
    crashing = SrguardRun(world, entry=("tests.reliability.crashing_srguard", "2"), **env)
    assert crashing.process.wait(90) == -9, "the fault hook should have killed it between produce and commit"
    crashing.stop()
    kills = 1
    for chunk in chunks[1:6]:
        world.publish(chunk)
        run = SrguardRun(world, **env)
        run.wait_ready()
        # Kill while it decides: after its first committed batch (a restart first aborts its predecessor's
        # open transaction, which takes a while on a busy machine), at a random point of its stream.
        run.wait_consumed(1, timeout=60)
        assert run.metric("srguard_sr_consumed_total") > 0, "the restarted process decided nothing in 60 s"
        time.sleep(rng.uniform(0.0, 0.3))
        run.kill()
        kills += 1
    world.publish(chunks[6])
    final = SrguardRun(world, **env)
    try:
        final.wait_ready()
        expected_rejected = sum(1 for i in traffic if i.rejected)
        # Apache Kafka hides aborted batches from read_committed readers: exactly the traffic, nothing more.
        room = 0 if broker_capabilities.read_committed_hides_aborted.supported else kills * BATCH
        accepted = world.outputs(world.topics.accepted, len(traffic) - expected_rejected + room, timeout=60)
        rejected = world.outputs(world.topics.rejected, expected_rejected, timeout=20)
    finally:
        assert final.stop() == 0, final.log.read_text()[-2000:]

    copies: dict[str, list[tuple[str, bytes, bytes, tuple]]] = defaultdict(list)
    for kind, messages in (("accepted", accepted), ("rejected", rejected)):
        for msg in messages:
            value = msg.value()
            source = None
            if kind == "rejected":
                record = codec("SrRejection").decode(value)
                source = (record["source_partition"], record["source_offset"])
                value = record["original"]
            copies[_request_id(kind, msg.value())].append((kind, msg.key(), value, source))
    assert set(copies) == {i.sr.request_id for i in traffic}, "SRs are missing after the crashes"
    duplicates = {rid: found for rid, found in copies.items() if len(found) > 1}
    if broker_capabilities.read_committed_hides_aborted.supported:
        assert not duplicates, f"{len(duplicates)} SRs decided twice"
        time.sleep(3)  # a late duplicate would show by now
        again = world.outputs(world.topics.accepted, len(accepted) + 1, timeout=5)  # one more would be a duplicate
        assert len(again) == len(accepted), f"{len(again) - len(accepted)} outputs arrived after the count"
        return
    for rid, found in duplicates.items():
        assert len(set(found)) == 1, f"{rid} was decided differently in two places: {found}"
    extra = sum(len(found) - 1 for found in duplicates.values())
    assert extra <= kills * BATCH, f"{extra} duplicates: more than {kills} aborted batches could hold"


def _decisions(world, timeout: float = 3) -> dict[str, list[tuple[str, bytes, bytes]]]:
    """Every output so far, by request id: (topic kind, key, the SR's bytes)."""
    copies: dict[str, list[tuple[str, bytes, bytes]]] = defaultdict(list)
    for kind in ("accepted", "rejected"):
        for msg in world.outputs(getattr(world.topics, kind), 10**9, timeout=timeout):
            value = msg.value() if kind == "accepted" else codec("SrRejection").decode(msg.value())["original"]
            copies[_request_id(kind, msg.value())].append((kind, msg.key(), value))
    return copies


def test_at_least_once_sigkill_loses_nothing_and_a_clean_stop_commits_everything(
    kafka_bootstrap, redis_url, unique, tmp_path
):
    """at-least-once commits asynchronously once outputs are delivered: a kill may decide some SRs again
    (exact copies), never lose one; a clean stop waits for what is in flight and commits it."""
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path)
    traffic = world.traffic(4 * 1500, seed=13)
    wanted = {i.sr.request_id for i in traffic}
    rng = random.Random(unique)
    env = {
        "SRGUARD_PROCESSING_GUARANTEE": "at_least_once",
        "SRGUARD_BATCH_SIZE": str(BATCH),
        "SRGUARD_KAFKA_GROUP_INSTANCE_ID": f"alo-{unique}",  # a restart takes the partitions back at once
    }
    for n in range(3):
        world.publish(traffic[n * 1500 : (n + 1) * 1500])
        run = SrguardRun(world, **env)
        run.wait_ready()
        run.wait_consumed(1, timeout=60)
        time.sleep(rng.uniform(0.0, 0.3))
        run.kill()
    world.publish(traffic[4500:])
    final = SrguardRun(world, **env)
    try:
        final.wait_ready()
        deadline = time.monotonic() + 90
        while set(copies := _decisions(world)) != wanted and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        assert final.stop() == 0, final.log.read_text()[-2000:]
    assert set(copies) == wanted, f"{len(wanted - set(copies))} SRs lost after the kills"
    for rid, found in copies.items():
        assert len(set(found)) == 1, f"{rid} was decided differently in two places: {found}"
    # The clean stop committed everything delivered: a new process finds nothing left to decide.
    after = SrguardRun(world, **env)
    try:
        after.wait_ready()
        time.sleep(3)
        assert after.metric("srguard_sr_consumed_total") == 0
    finally:
        assert after.stop() == 0
    assert sum(len(found) for found in _decisions(world).values()) == sum(len(found) for found in copies.values())
