"""Assembles ``srguard run`` from the settings: stores, feed, judge, processor, HTTP endpoint."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from processor.avro import Serde
from processor.config import Mode, SettingError, Settings
from processor.domain.rule import Policy
from processor.names import feed_group
from processor.observability.http import HealthEndpoint
from processor.observability.metrics import Metrics
from processor.registration.connect import stores
from processor.registration.feed import ReferenceFeed
from processor.registration.parties import DirectoryCache, PartyStore
from processor.registration.store import RegistrationStore
from processor.stream.dlq import DlqPolicy
from processor.stream.edge import record_limit
from processor.stream.judge import Judge
from processor.stream.processor import SrProcessor
from processor.wiring import certificate_reader, serde_from

log = logging.getLogger(__name__)


@dataclass
class App:
    processor: SrProcessor
    feed: ReferenceFeed
    endpoint: HealthEndpoint


def reference_feed(
    settings: Settings, registrations: RegistrationStore, parties: PartyStore, serde: Serde | None = None
) -> ReferenceFeed:
    """The feed as both `srguard run` and `srguard feed` run it."""
    return ReferenceFeed(
        settings.kafka_config(**{"group.id": feed_group(settings.group_id)}),
        settings.topics.registrations,
        settings.topics.parties,
        registrations,
        parties,
        batch_size=settings.feed_batch_size,
        serde=serde or serde_from(settings),
    )


class UntrustedCertificatesRefused(SettingError):
    """Enforce mode without a trust store, and the user did not say that is meant."""


def build(settings: Settings, metrics: Metrics | None = None) -> App:
    untrusted = settings.trust_store is None and settings.mode is Mode.ENFORCE
    if untrusted and not settings.allow_untrusted_certificates:
        raise UntrustedCertificatesRefused(
            "enforce mode needs a trust store of SMKI Organisation CA certificates (--trust-store / "
            "SRGUARD_TRUST_STORE): without one any certificate with OU 03 and the right EUI-64 passes; "
            "--allow-untrusted-certificates (SRGUARD_ALLOW_UNTRUSTED_CERTIFICATES=true) runs without it"
        )
    metrics = metrics or Metrics()
    metrics.untrusted_certificates.set(1 if untrusted else 0)
    if untrusted:
        log.warning("certificates are NOT checked against a trust anchor (allow_untrusted_certificates)")
    registrations, parties = stores(settings)
    reader = certificate_reader(settings)
    directory = DirectoryCache(parties)
    serde = serde_from(settings)
    judge = Judge(
        settings.topics,
        settings.mode,
        Policy(settings.on_missing_registration),
        reader,
        registrations.lookup_many,
        directory.refresh,
        record_limit(settings.kafka_config(), list(settings.topics.outputs())),
        serde,
    )
    dlq = DlqPolicy(settings.dlq_max_consecutive, settings.dlq_max_ratio, settings.dlq_window)
    feed = reference_feed(settings, registrations, parties, serde)  # one registry client per process
    processor = SrProcessor(settings, judge, metrics, dlq, feed)
    feed.on_batch = processor.observe_feed
    endpoint = HealthEndpoint(
        settings.metrics_port,
        metrics.registry,
        processor.readiness,
        processor.liveness,
        settings.metrics_host,
        settings.http_max_connections,
        settings.http_read_timeout_s,
    )
    return App(processor, feed, endpoint)


def run(settings: Settings, stop: threading.Event, app: App | None = None) -> App:
    """Serve HTTP, catch the feed up, then process until ``stop``; the feed keeps running alongside."""
    app = app or build(settings)
    app.endpoint.start()
    log.info("serving /metrics, /healthz, /readyz on port %d", app.endpoint.port)
    feed_thread = threading.Thread(target=app.feed.run, args=(stop,), name="srguard-feed", daemon=True)
    try:
        app.feed.start()
        if not app.feed.wait_ready(settings.feed_ready_timeout_s, stop):
            if stop.is_set():
                return app
            raise FeedNotReady(
                f"reference feed not caught up after {settings.feed_ready_timeout_s:.0f}s: "
                f"waiting for {', '.join(app.feed.status.waiting_for)}"
            )
        log.info("reference feed ready: %d records applied", app.feed.status.applied)
        feed_thread.start()
        app.processor.run(stop)
    finally:
        stop.set()  # whatever ended the processor ends the feed too
        if feed_thread.is_alive():
            feed_thread.join(settings.shutdown_timeout_s)
        else:
            app.feed.close()
        app.endpoint.stop()
    return app


class FeedNotReady(RuntimeError):
    pass
