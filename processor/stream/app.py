"""``srguard run`` as it runs: serve HTTP, catch the reference feed up, then process until stopped.

The parts are built by ``processor.wiring.processor_app``."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from processor.config import Settings
from processor.errors import FeedNotReady
from processor.observability import progress
from processor.observability.feed import FeedView, waiting_text
from processor.observability.http import HealthEndpoint
from processor.stream.processor import SrProcessor

log = logging.getLogger(__name__)
WATCH_EVERY_S = 1.0


@dataclass
class App:
    processor: SrProcessor
    feed: FeedView
    endpoint: HealthEndpoint


def watch(processor: SrProcessor, stop: threading.Event, bound_s: float, on_stall: Callable[[str], None]) -> None:
    """Every second, from outside the processing loop: srguard_ready as /readyz says (a loop stuck inside a
    call would never set it itself), and ``on_stall`` once the loop has not moved for ``bound_s``."""
    while not stop.wait(WATCH_EVERY_S):
        processor.metrics.ready.set(1 if processor.readiness()[0] else 0)
        stalled = time.monotonic() - processor.heartbeat
        if stalled > bound_s:
            on_stall(f"processing loop stalled for {stalled:.0f}s (bound {bound_s:.0f}s)")
            return


def run(settings: Settings, stop: threading.Event, app: App, on_stall: Callable[[str], None] | None = None) -> App:
    """Serve HTTP, catch the feed up, then process until ``stop``; the feed keeps running alongside, and with
    ``on_stall`` a watchdog (``watch``)."""
    app.endpoint.start()
    log.info("serving /metrics, /healthz, /readyz on port %d", app.endpoint.port)
    feed_thread = threading.Thread(target=app.feed.run, args=(stop,), name="srguard-feed", daemon=True)
    try:
        app.feed.start()
        if not app.feed.status.ready:  # say what it waits for: /readyz says it too, a log reader sees it here
            waiting = waiting_text(app.feed.status)
            log.info("waiting up to %.0fs for the reference feed (%s)", settings.feed_ready_timeout_s, waiting)
        if not app.feed.wait_ready(settings.feed_ready_timeout_s, stop):
            if stop.is_set():
                return app
            raise FeedNotReady(
                f"reference feed not caught up after {settings.feed_ready_timeout_s:.0f}s: "
                f"waiting for {', '.join(app.feed.status.waiting_for)}"
            )
        log.info("reference feed ready: %d records applied", app.feed.status.applied)
        # What start-up built (modules, schemas, clients) lives as long as the process: out of the
        # collector's sight, a full collection no longer walks it (measured: 80-130 ms pauses before,
        # each one SRs waited out).
        gc.freeze()
        feed_thread.start()
        if on_stall is not None:
            args = (app.processor, stop, settings.liveness_timeout_s, on_stall)
            threading.Thread(target=watch, args=args, name="srguard-watchdog", daemon=True).start()
        every = settings.progress_interval_s
        reporting = (app.processor.metrics.registry, stop, every)
        threading.Thread(target=progress.report, args=reporting, name="srguard-progress", daemon=True).start()
        app.processor.run(stop)
    finally:
        stop.set()  # whatever ended the processor ends the feed too
        if feed_thread.is_alive():
            feed_thread.join(settings.shutdown_timeout_s)
        else:
            app.feed.close()
        app.endpoint.stop()
    return app
