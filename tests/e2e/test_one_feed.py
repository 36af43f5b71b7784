"""One reference feed for many processors (issue 22): `srguard feed` is the only writer of the reference
data and publishes its status; `srguard run` with embedded_feed = false runs no feed and watches it."""

from __future__ import annotations

import time

import pytest
import redis

from processor.avro import codec
from processor.devkit.simulate.traffic import LabelledSR
from processor.domain.model import Registration
from processor.registration.publish import publish_registrations
from processor.registration.store import RegistrationStore
from tests.e2e.srguard_process import SrguardRun, make_world

pytestmark = pytest.mark.e2e

DAY = 86_400_000
INFO = {"SRGUARD_LOG_LEVEL": "info"}  # the feed says "feed assigned" at info: the processors must not
EXTERNAL = {"SRGUARD_EMBEDDED_FEED": "false", "SRGUARD_LIVENESS_TIMEOUT_S": "4", **INFO}


@pytest.fixture
def world(kafka_bootstrap, redis_url, unique, tmp_path):
    return make_world(kafka_bootstrap, redis_url, unique, tmp_path, meter_points=300)


def request_id(message) -> str:
    return codec("ServiceRequest").decode(message.value())["request_id"]


def wait_for(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_processors_without_a_feed_judge_by_the_one_feed_and_pause_when_it_goes(world):
    point = next(p for p in world.population.meter_points if p.registrations and p.device_type.value == "ESME")
    old = point.registration_at(2_000_000_000_000)
    new_operator = next(o for o in world.population.network_operators if o != old.network_operator_id)
    traffic = world.traffic(300, seed=7)
    world.publish(traffic)
    feed = SrguardRun(world, command="feed", **INFO)
    processors = [SrguardRun(world, **EXTERNAL), SrguardRun(world, **EXTERNAL)]
    try:
        feed.wait_ready()
        assert feed.metric("srguard_feed_ready") == 1 and "ready:" in feed.get("/readyz")[1]
        for run in processors:
            run.wait_ready()
        expected_rejected = sum(1 for i in traffic if i.rejected)
        world.outputs(world.topics.accepted, len(traffic) - expected_rejected)
        assert len(world.outputs(world.topics.rejected, expected_rejected)) == expected_rejected
        # A change of Network Operator reaches both processors through the one feed.
        change_at = max(old.effective_from, 1_750_000_000_000)
        publish_registrations(
            world.producer,
            world.topics.registrations,
            [Registration(old.mpxn, old.fuel, new_operator, old.supplier_id, change_at, old.sequence + 1000)],
        )
        store = RegistrationStore(redis.Redis.from_url(world.redis), f"run{world.unique}", 1024)
        wait_for(lambda: store.lookup(old.mpxn, change_at + DAY).network_operator_id == new_operator)
        placements = [
            LabelledSR(world.handover(point, new_operator, change_at + DAY, 900 + n), None, None) for n in range(20)
        ]
        world.publish(placements)  # type: ignore[arg-type]
        accepted = world.outputs(world.topics.accepted, len(traffic) - expected_rejected + 20)
        assert {p.sr.request_id for p in placements} <= {request_id(m) for m in accepted}
        assert sum(run.metric("srguard_feed_ready") for run in processors) == 2
        # The feed goes: the processors stop being ready (nothing decided on a view nobody keeps), but
        # stay alive (restarting them would not bring the feed back).
        assert feed.stop() == 0, feed.log.read_text()[-2000:]
        for run in processors:
            wait_for(lambda run=run: run.get("/readyz")[0] == 503, timeout=20)
            _, why = run.get("/readyz")
            assert "reference feed stalled" in why and run.get("/healthz")[0] == 200
        # It comes back: they are ready again.
        feed = SrguardRun(world, command="feed")
        for run in processors:
            run.wait_ready(timeout=30)
    finally:
        feed.stop()
        codes = [run.stop() for run in processors]
    assert codes == [0, 0], [run.log.read_text()[-2000:] for run in processors]
    assert "feed assigned" in feed.log.read_text()
    assert not any("feed assigned" in run.log.read_text() for run in processors), "a processor ran its own feed"
