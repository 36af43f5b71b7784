"""The long-running commands: ``srguard run`` (judge SRs) and ``srguard feed`` (keep Redis fed)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from processor import wiring
from processor.cli.common import Bootstrap, ConfigFile, RedisUrl, connected_stores, console, fail, settings_from
from processor.config import Mode, ProcessingGuarantee
from processor.domain.decision import MissingRegistration
from processor.errors import ExitCode
from processor.kafka.edge import error_text
from processor.observability.feed import FeedStatus
from processor.stream.app import run as run_processor

FEED_PROGRESS_EVERY_S = 10.0
log = logging.getLogger("srguard")


def handle_signals(stop: threading.Event, bound_s: float) -> None:
    """SIGTERM/SIGINT go to a thread of their own: blocked in every other thread (this runs before any client
    starts one), so a main thread stuck inside a librdkafka call cannot keep them unseen. The first sets
    ``stop`` and leaves ``bound_s`` to finish (then exit 6); a second ends the process at once (exit 10)."""
    wanted = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)

    def wait() -> None:
        signum = signal.sigwait(wanted)
        log.info("signal %d: finishing the batch and stopping (a second signal stops at once)", signum)
        stop.set()
        # A bound on shutdown: if closing hangs (a dead broker), leave anyway; uncommitted work is redone.
        timer = threading.Timer(bound_s, lambda: os._exit(ExitCode.SHUTDOWN_TIMEOUT))
        timer.daemon = True
        timer.start()
        signum = signal.sigwait(wanted)
        log.error("signal %d again: stopping at once; uncommitted work is redone by the next start", signum)
        os._exit(ExitCode.ABORTED)

    threading.Thread(target=wait, name="srguard-signals", daemon=True).start()


def exit_stalled(why: str) -> None:
    """The processing loop has not moved for the liveness bound (a call into the broker that never returns):
    leave with a documented code for the orchestrator to restart us; an open transaction is aborted by the
    broker, and what was not committed is decided again."""
    log.error("%s: exiting so that srguard can be restarted", why)
    os._exit(ExitCode.STALLED)


def feed(
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
    once: Annotated[
        bool, typer.Option("--once", help="Catch up with the topics, then exit (e.g. before a replay or a report).")
    ] = False,
) -> None:
    """Keep Redis fed from the registration, party and device topics until SIGTERM/Ctrl-C (one feed serves many)."""
    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url)
    stores = connected_stores(settings)
    stop = threading.Event()
    handle_signals(stop, settings.shutdown_timeout_s)
    last_print = 0.0
    was_ready = False

    def report(status: FeedStatus) -> None:
        nonlocal last_print, was_ready
        if status.ready and not was_ready:
            was_ready = True
            console.print(f"feed ready: caught up on {status.partitions} partitions ({status.applied} records applied)")
            if once:
                stop.set()
        if time.monotonic() - last_print > FEED_PROGRESS_EVERY_S:
            last_print = time.monotonic()
            console.print(
                f"feed: {status.applied} applied, {status.rejected} rejected, "
                f"lag {status.lag_records} records / {status.lag_seconds:.1f}s"
            )

    reference, endpoint = wiring.feed_app(settings, stores, report)
    endpoint.start()
    console.print(f"serving /metrics, /healthz, /readyz on port {endpoint.port}")
    try:
        reference.start()
        reference.run(stop)
    finally:
        endpoint.stop()
    if reference.status.failed:
        raise fail(f"the reference feed stopped: {reference.status.failed}", ExitCode.FEED_STOPPED)
    console.print(f"feed stopped: {reference.status.applied} records applied")


def run(
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
    group_id: Annotated[str | None, typer.Option(help="Consumer group.", show_default=False)] = None,
    mode: Annotated[
        Mode | None,
        typer.Option(help="enforce, or audit (accept all, record would-be rejections).", show_default=False),
    ] = None,
    processing_guarantee: Annotated[
        ProcessingGuarantee | None,
        typer.Option(
            help="exactly_once (default): outputs and offsets in one transaction; at_least_once: faster, "
            "an SR may be written twice after a crash.",
            show_default=False,
        ),
    ] = None,
    metrics_port: Annotated[int | None, typer.Option(help="/metrics, /healthz, /readyz.", show_default=False)] = None,
    on_missing_registration: Annotated[
        MissingRegistration | None,
        typer.Option(
            help="An in-scope SR whose MPxN has no Network Operator registered: reject (default), or accept "
            "and flag it (srguard-flag header).",
            show_default=False,
        ),
    ] = None,
    trust_store: Annotated[
        Path | None, typer.Option(help="PEM bundle of SMKI OCA certificates.", show_default=False)
    ] = None,
    allow_untrusted_certificates: Annotated[
        bool | None,
        typer.Option(
            "--allow-untrusted-certificates",
            help="Enforce without a trust store (issuers unchecked; said in /readyz and a metric).",
            show_default=False,
        ),
    ] = None,
    strict_acls: Annotated[
        bool | None,
        typer.Option(
            "--strict-acls",
            help="Refuse to start if this principal may write the input or reference topics (via DescribeAcls).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Judge Service Requests: consume dcc.sr.requests, decide, produce accepted/rejected/audit/DLQ."""
    settings = settings_from(
        config,
        bootstrap_servers=bootstrap_servers,
        redis_url=redis_url,
        group_id=group_id,
        mode=mode,
        processing_guarantee=processing_guarantee,
        metrics_port=metrics_port,
        on_missing_registration=on_missing_registration,
        trust_store=trust_store,
        allow_untrusted_certificates=allow_untrusted_certificates,
        strict_acls=strict_acls,
    )
    stop = threading.Event()
    handle_signals(stop, settings.shutdown_timeout_s)
    try:
        app = wiring.processor_app(settings)
        wiring.require_run_topics(settings)  # after the port is taken: before any group is joined
        finished = run_processor(settings, stop, app, exit_stalled)
    except OSError as exc:  # e.g. the metrics port in use; srguard's and Kafka's errors: the command line's handler
        raise fail(f"srguard stopped: {error_text(exc)}") from exc
    console.print(f"srguard stopped after {finished.processor.batches} batches")
