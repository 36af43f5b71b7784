"""Redis stops mid-stream for a while and comes back with its data: the processor pauses (readiness
false, a metric says why), rejects nothing because of the outage, and resumes to the same outputs."""

from __future__ import annotations

import time

import pytest

from processor.avro import codec
from tests.e2e.srguard_process import SrguardRun, make_world
from tests.reliability.redis_process import RestartableRedis

pytestmark = pytest.mark.integration


def test_redis_outage_pauses_and_loses_nothing(kafka_bootstrap, unique, tmp_path):
    server = RestartableRedis(tmp_path).start()
    try:
        world = make_world(kafka_bootstrap, server.url, unique, tmp_path)
        traffic = world.traffic(6000, seed=13)
        run = SrguardRun(world, SRGUARD_BATCH_SIZE="50")
        run.wait_ready()
        world.publish(traffic)
        run.wait_consumed(300)
        server.stop()
        paused, why = False, ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not paused:
            status, why = run.get("/readyz")
            paused = status == 503 and "redis unavailable" in why and run.metric('srguard_paused{cause="redis"}') == 1
            time.sleep(0.2)
        time.sleep(4)  # stay down a while: the processor must keep waiting, not reject
        assert run.process.poll() is None, "the processor died during the outage"
        server.start()
        expected_rejected = sum(1 for i in traffic if i.rejected)
        accepted = world.outputs(world.topics.accepted, len(traffic) - expected_rejected, timeout=90)
        rejected = world.outputs(world.topics.rejected, expected_rejected, timeout=30)
        status_after, _ = run.get("/readyz")
        pauses = run.metric("srguard_infrastructure_pauses_total")
        assert run.stop() == 0
    finally:
        server.stop()
    assert paused, f"no pause was reported during the outage (last /readyz: {why!r})"
    assert status_after == 200 and pauses >= 1
    rejected_ids = {codec("SrRejection").decode(m.value())["request_id"] for m in rejected}
    assert rejected_ids == {i.sr.request_id for i in traffic if i.rejected}, "the outage changed a decision"
    assert {codec("ServiceRequest").decode(m.value())["request_id"] for m in accepted} == {
        i.sr.request_id for i in traffic if not i.rejected
    }
