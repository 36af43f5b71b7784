"""An SR arriving before the registration change that applies to it, while the feed lags: with the
feed-lag bound the processor waits for the feed instead of judging by the stale view. In-process, so
that a hook can hold the feed back deterministically instead of racing it."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from confluent_kafka import Producer

from processor.avro import codec
from processor.config import load_settings
from processor.devkit.simulate.traffic import LabelledSR
from processor.domain.decision import Branch
from processor.domain.identifiers import Fuel
from processor.domain.model import Registration
from processor.registration.publish import publish_registrations
from processor.stream.app import run
from processor.wiring import processor_app
from tests.e2e.srguard_process import make_world
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def test_no_sr_is_judged_by_a_stale_registration_view(kafka_bootstrap, redis_url, unique, tmp_path, monkeypatch):
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path)
    env = world.env(SRGUARD_FEED_BATCH_SIZE="10", SRGUARD_FEED_MAX_LAG_RECORDS="0", SRGUARD_METRICS_PORT="0")
    for name, value in env.items():
        if name.startswith("SRGUARD_"):
            monkeypatch.setenv(name, value)
    settings = load_settings()
    app = processor_app(settings)
    stop = threading.Event()
    runner = threading.Thread(target=run, args=(settings, stop, app))
    runner.start()
    try:
        wait_for(lambda: app.processor.readiness()[0], "ready")
        # The injected hook: every feed batch costs 50 ms (a slow Redis) until the test has seen the
        # processor wait for it. The pause is awaited, never raced.
        slow = threading.Event()
        slow.set()
        apply = app.feed.registrations.apply

        def slow_apply(*args, **kwargs):
            if slow.is_set():
                time.sleep(0.05)
            return apply(*args, **kwargs)

        app.feed.registrations.apply = slow_apply  # type: ignore[method-assign]
        points = world.population.meter_points[:200]
        changes, srs = [], []
        for n, point in enumerate(points):
            current = point.registrations[-1]
            pool = world.population.operators_of(point.fuel)
            new_operator = next(o.party_id for o in pool if o.party_id != current.network_operator_id)
            changes.append(replace(current, network_operator_id=new_operator, sequence=current.sequence + 10**6))
            # Judged by the stale view, this SR would be rejected as placing a foreign NO's certificates.
            srs.append(
                LabelledSR(
                    world.handover(point, new_operator, int(time.time() * 1000), n), Branch.REGISTERED_OWNER, None
                )
            )
        filler = [Registration(f"{1999000000000 + i}", Fuel.ELECTRICITY, "LOND", None, 0, 1) for i in range(2_000)]
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})
        publish_registrations(producer, world.topics.registrations, filler + changes)
        wait_for(lambda: app.feed.status.lag_records > 0, "the feed to report its lag")
        world.publish(srs)
        why = wait_for(lambda: "behind" in (w := app.processor.readiness()[1]) and w, "the processor to wait")
        slow.clear()  # the feed may now catch up
        accepted = world.outputs(world.topics.accepted, len(srs), timeout=120)
        rejected = world.outputs(world.topics.rejected, 1, timeout=3)
        pauses = app.processor.metrics.registry.get_sample_value(
            "srguard_infrastructure_pauses_total", {"cause": "feed_lag"}
        )
    finally:
        stop.set()
        runner.join(60)
    assert "reference feed is" in why and pauses >= 1
    stale = [codec("SrRejection").decode(m.value())["detail"] for m in rejected]
    assert not stale, f"SRs judged by a stale registration view: {stale[:3]}"
    assert len(accepted) == len(srs)
