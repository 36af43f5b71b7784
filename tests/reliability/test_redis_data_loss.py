"""Redis loses its data mid-stream (FLUSHALL: what a restart without persistence or a failover to an empty
replica also does): srguard decides nothing on the half-empty Redis, says so on /readyz, its feed rebuilds the
reference data from the topics, and every SR is then decided as it would have been (issue 35)."""

from __future__ import annotations

import time

import pytest
import redis

from processor.avro import codec
from tests.e2e.srguard_process import SrguardRun, make_world
from tests.reliability.redis_process import RestartableRedis

pytestmark = pytest.mark.integration


def test_flushall_mid_stream_pauses_rebuilds_and_decides_nothing_wrong(kafka_bootstrap, unique, tmp_path):
    server = RestartableRedis(tmp_path).start()
    try:
        world = make_world(kafka_bootstrap, server.url, unique, tmp_path)
        traffic = world.traffic(6000, seed=17)
        run = SrguardRun(world, SRGUARD_BATCH_SIZE="50")
        run.wait_ready()
        world.publish(traffic)
        run.wait_consumed(300)
        redis.Redis.from_url(server.url).flushall()
        seen: set[tuple[int, str]] = set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(s == 503 and "reference data" in w for s, w in seen):
            seen.add(run.get("/readyz"))
            time.sleep(0.05)
        expected_rejected = sum(1 for i in traffic if i.rejected)
        accepted = world.outputs(world.topics.accepted, len(traffic) - expected_rejected, timeout=90)
        rejected = world.outputs(world.topics.rejected, expected_rejected, timeout=30)
        status_after, _ = run.get("/readyz")
        lost_pauses = run.metric('srguard_infrastructure_pauses_total{cause="reference_lost"}')
        rebuilt = redis.Redis.from_url(server.url).get(f"run{unique}:reference:epoch")
        assert run.stop() == 0, run.log.read_text()[-3000:]
    finally:
        server.stop()
    assert lost_pauses >= 1, "no batch was held back while the reference data was missing"
    assert any(s == 503 and "reference data lost" in w for s, w in seen), seen
    assert status_after == 200 and rebuilt is not None and rebuilt.startswith(b"whole:")
    rejected_ids = [codec("SrRejection").decode(m.value())["request_id"] for m in rejected]
    assert sorted(rejected_ids) == sorted(i.sr.request_id for i in traffic if i.rejected), "a decision changed"
    assert sorted(codec("ServiceRequest").decode(m.value())["request_id"] for m in accepted) == sorted(
        i.sr.request_id for i in traffic if not i.rejected
    )
