"""A reference feed whose loop ends (a fault the feed cannot set aside) must not leave the processor
deciding on a frozen registration view: liveness and readiness fail at once, and `run` stops with
FeedStopped (exit 7 from the command) before it decides another SR."""

from __future__ import annotations

import threading

import pytest

from processor.config import load_settings
from processor.errors import FeedStopped
from processor.stream.app import run
from processor.wiring import processor_app
from tests.e2e.srguard_process import make_world
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def test_a_stopped_feed_stops_the_processor_before_it_decides_again(
    kafka_bootstrap, redis_url, unique, tmp_path, monkeypatch
):
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path, meter_points=200)
    for name, value in world.env(SRGUARD_METRICS_PORT="0").items():
        if name.startswith("SRGUARD_"):
            monkeypatch.setenv(name, value)
    settings = load_settings()
    app = processor_app(settings)
    original = app.feed.poll

    def poll(timeout: float = 0.5) -> int:
        if app.feed.status.ready and broken.is_set():
            raise RuntimeError("disk on fire")
        return original(timeout)

    broken = threading.Event()
    app.feed.poll = poll  # type: ignore[method-assign]
    stop, outcome = threading.Event(), {}

    def target() -> None:
        try:
            run(settings, stop, app)
        except Exception as exc:
            outcome["error"] = exc

    runner = threading.Thread(target=target)
    runner.start()
    try:
        wait_for(lambda: app.processor.readiness()[0], "ready")
        broken.set()
        wait_for(lambda: app.feed.status.failed, "the feed to stop")
        alive, why = app.processor.liveness()
        assert not alive and "reference feed stopped: RuntimeError: disk on fire" in why
        assert not app.processor.readiness()[0]
        world.publish(world.traffic(50, seed=2))
        runner.join(30)
    finally:
        stop.set()
        runner.join(30)
    assert isinstance(outcome.get("error"), FeedStopped), outcome
    assert app.processor.metrics.registry.get_sample_value("srguard_feed_stopped") == 1
    assert app.processor.batches == 0, "an SR was decided after the feed stopped"
    assert world.outputs(world.topics.accepted, 1, timeout=3) == []
