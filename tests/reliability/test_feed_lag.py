"""An SR arriving before the registration change that applies to it, while the feed lags: with the
feed-lag bound the processor waits for the feed instead of judging by the stale view."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from confluent_kafka import Producer

from processor.avro import codec
from processor.domain.identifiers import Fuel
from processor.domain.model import Registration
from processor.domain.rule import Branch
from processor.registration.publish import publish_registrations
from processor.simulate.traffic import LabelledSR
from tests.e2e.srguard_process import SrguardRun, make_world

pytestmark = pytest.mark.integration


def test_no_sr_is_judged_by_a_stale_registration_view(kafka_bootstrap, redis_url, unique, tmp_path):
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path)
    run = SrguardRun(world, SRGUARD_FEED_BATCH_SIZE="10", SRGUARD_FEED_MAX_LAG_RECORDS="0")
    run.wait_ready()
    points = world.population.meter_points[:200]
    changes, srs = [], []
    for n, point in enumerate(points):
        current = point.registrations[-1]
        pool = world.population.operators_of(point.fuel)
        new_operator = next(o.party_id for o in pool if o.party_id != current.network_operator_id)
        changes.append(replace(current, network_operator_id=new_operator, sequence=current.sequence + 10**6))
        # Judged by the stale view, this SR would be rejected as placing a foreign NO's certificates.
        srs.append(
            LabelledSR(world.handover(point, new_operator, int(time.time() * 1000), n), Branch.REGISTERED_OWNER, None)
        )
    filler = [Registration(f"{1999000000000 + i}", Fuel.ELECTRICITY, "LOND", None, 0, 1) for i in range(20_000)]
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})
    publish_registrations(producer, world.topics.registrations, filler + changes)

    observed: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            status, body = run.get("/readyz")
            if status == 503:
                observed.append(body)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        time.sleep(0.5)  # the SRs arrive while the feed is still working through the burst
        world.publish(srs)
        accepted = world.outputs(world.topics.accepted, len(srs), timeout=120)
        rejected = world.outputs(world.topics.rejected, 1, timeout=3)
        pauses = run.metric('srguard_infrastructure_pauses_total{cause="feed_lag"}')
    finally:
        stop.set()
        watcher.join()
        assert run.stop() == 0
    assert any("reference feed is" in body and "behind" in body for body in observed), observed[:3]
    assert pauses >= 1
    stale = [codec("SrRejection").decode(m.value())["detail"] for m in rejected]
    assert not stale, f"SRs judged by a stale registration view: {stale[:3]}"
    assert len(accepted) == len(srs)
