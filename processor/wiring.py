"""The composition root: every part a command runs, built from the settings in one place.

Commands and rooms ask here for serdes, stores, the certificate reader, the judge, the reference feed
and the live processor, so a setting means the same thing in ``run``, ``feed``, ``replay``, ``ledger``
and ``report``. Nothing here decides or moves records; it only connects the rooms that do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from cryptography import x509
from redis.cluster import RedisCluster
from redis.exceptions import RedisError

from processor.avro import PLAIN, RegistryAvro, Serde
from processor.config import InputFormat, Mode, ProcessingGuarantee, Settings
from processor.domain.certificates import CertificateReader, TrustStore, anchor_problem
from processor.domain.decision import Policy
from processor.domain.model import PartyDirectory, Registration
from processor.errors import SettingError, UntrustedCertificatesRefused
from processor.history.explain import following
from processor.history.replay import replay_topics
from processor.history.sources import Subjects, subjects_from
from processor.kafka import acls
from processor.kafka.edge import DEFAULT_MAX_RECORD_BYTES, log_failed_commit, record_limit
from processor.kafka.topics import require_history, require_topics
from processor.ledger.store import LedgerStore
from processor.names import Topics, feed_group, replay_transactional_id, transactional_id
from processor.observability.feed import FeedStatus, FeedView
from processor.observability.http import Check, HealthEndpoint
from processor.observability.metrics import Metrics
from processor.registration.buckets import RedisClient
from processor.registration.devices import DeviceInventoryStore
from processor.registration.feed import ReferenceFeed
from processor.registration.feed_status import WatchedFeed, feed_liveness, feed_readiness, publish_status
from processor.registration.lookup import RedisReference, Stores, require_whole
from processor.registration.parties import DirectoryCache, PartyStore
from processor.registration.store import RegistrationStore
from processor.stream.app import App
from processor.stream.commit import BeforeCommit, CommitWhenDelivered, Durable, Transactional
from processor.stream.dlq import DlqPolicy
from processor.stream.judge import Judge
from processor.stream.processor import SrProcessor
from processor.stream.serde import SrReader, avro_reader, duis_reader

log = logging.getLogger(__name__)
LINGER_MS = 5  # librdkafka's default: a busy stream's outputs leave in fuller requests


def serde_from(settings: Settings) -> Serde:
    registry = settings.schema_registry_config()
    return RegistryAvro(registry) if registry else PLAIN


def trust_store(path: Path) -> TrustStore:
    """The SMKI Organisation CAs in ``path``; a file that holds none is a setting error, never an empty anchor."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise SettingError(f"trust store {path}: cannot read it ({exc.strerror})") from exc
    try:
        anchors = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise SettingError(
            f"trust store {path} holds no PEM certificate (expected SMKI Organisation CA certificates)"
        ) from exc
    for number, anchor in enumerate(anchors, 1):
        subject = anchor.subject.rfc4514_string()
        problem = anchor_problem(anchor)
        if problem:
            raise SettingError(f"trust store {path}, certificate {number} ({subject}): {problem}")
        log.info("trust anchor %d of %s: %s, valid until %s", number, path, subject, anchor.not_valid_after_utc)
    return TrustStore(anchors)


def certificate_reader(settings: Settings) -> CertificateReader:
    trust = trust_store(settings.trust_store) if settings.trust_store else None
    return CertificateReader(settings.certificate_cache_size, trust, settings.certificate_cache_bytes)


def redis_client(settings: Settings) -> RedisClient:
    url = settings.redis_url.get_secret_value()
    timeouts = {
        "socket_timeout": settings.redis_socket_timeout_s,
        "socket_connect_timeout": settings.redis_socket_timeout_s,
    }
    if settings.redis_cluster:
        return RedisCluster.from_url(url, **timeouts)
    return redis.Redis.from_url(url, **timeouts)


def stores(settings: Settings, client: RedisClient | None = None) -> Stores:
    """The reference stores, on ``client`` or a new one."""
    client = client or redis_client(settings)
    return Stores(
        RegistrationStore(client, settings.redis_key_prefix, settings.registration_buckets),
        PartyStore(client, settings.redis_key_prefix),
        DeviceInventoryStore(client, settings.redis_key_prefix, settings.device_buckets),
    )


def whole_stores(settings: Settings) -> Stores:
    """The stores, once a feed has said Redis holds the whole reference data (ReferenceLost otherwise)."""
    found = stores(settings)
    require_whole(found.registrations)
    return found


def ledger_store(settings: Settings, client: RedisClient | None = None) -> LedgerStore:
    return LedgerStore(client or redis_client(settings), settings.redis_key_prefix, settings.ledger_buckets)


def reference_and_ledger(settings: Settings) -> tuple[Stores, LedgerStore]:
    """The whole reference data (ReferenceLost otherwise) and the ledger, on one Redis client."""
    client = redis_client(settings)
    reference = stores(settings, client)
    require_whole(reference.registrations)
    return reference, ledger_store(settings, client)


def ledger_parts(settings: Settings) -> tuple[LedgerStore, CertificateReader, Serde]:
    """What `ledger build` writes with and reads by."""
    return ledger_store(settings), certificate_reader(settings), serde_from(settings)


def reference_feed(settings: Settings, reference: Stores, serde: Serde | None = None) -> ReferenceFeed:
    """The feed as both `srguard run` and `srguard feed` run it."""
    return ReferenceFeed(
        settings.kafka_config("consumer", **{"group.id": feed_group(settings.group_id)}),
        settings.topics.registrations,
        settings.topics.parties,
        reference.registrations,
        reference.parties,
        settings.topics.devices,
        reference.devices,
        batch_size=settings.feed_batch_size,
        serde=serde or serde_from(settings),
        check_topics=lambda names: require_history(AdminClient(settings.kafka_config("admin")), names),
    )


def sr_reader(settings: Settings, serde: Serde) -> SrReader:
    return duis_reader if settings.input_format is InputFormat.DUIS else avro_reader(serde)


def judge(
    settings: Settings, topics: Topics, mode: Mode, reference: Stores, serde: Serde, limit_from_topics: bool = True
) -> Judge:
    """The processing step writing to ``topics`` (the live ones, or a replay's), its limit read from them (or,
    for `explain`, which writes nothing, the default)."""
    reader = certificate_reader(settings)  # a trust store that cannot be used is said before any broker call
    producer = settings.kafka_config("producer")
    limit = record_limit(producer, list(topics.outputs())) if limit_from_topics else DEFAULT_MAX_RECORD_BYTES
    return Judge(
        topics,
        mode,
        Policy(settings.on_missing_registration),
        reader,
        RedisReference(reference.registrations, reference.devices, DirectoryCache(reference.parties)),
        limit,
        serde,
        read=sr_reader(settings, serde),
    )


def explain_parts(settings: Settings) -> tuple[Judge, Callable[[str, int], Registration | None]]:
    """`explain`'s judge (run's own, writing nothing) and the registration that followed one in force."""
    stores = whole_stores(settings)
    step = judge(settings, settings.topics, settings.mode, stores, serde_from(settings), limit_from_topics=False)
    return step, lambda mpxn, at: following(stores.registrations.history(mpxn), at)


def replay_parts(settings: Settings, prefix: str, mode: Mode) -> tuple[Judge, Producer]:
    """The judge and producer of `replay topic` into ``prefix``; ReferenceLost before anything is created when
    Redis does not hold the whole reference data (a replay on a half-empty Redis lies)."""
    reference = whole_stores(settings)
    step = judge(settings, replay_topics(settings, prefix), mode, reference, serde_from(settings))
    transactional = {"transactional.id": replay_transactional_id(settings.group_id, prefix)}
    return step, output_producer(settings, step.max_record_bytes, **transactional)


def output_producer(settings: Settings, max_record_bytes: int | None = None, **config: Any) -> Producer:
    """An idempotent producer for the history commands (replay, publishing archives)."""
    limit = {} if max_record_bytes is None else {"message.max.bytes": max_record_bytes}
    return Producer(
        settings.kafka_config("producer", **{"enable.idempotence": True, "linger.ms": 20, **limit, **config})
    )


def health_endpoint(settings: Settings, metrics: Metrics, readiness: Check, liveness: Check) -> HealthEndpoint:
    return HealthEndpoint(
        settings.metrics_port,
        metrics.registry,
        readiness,
        liveness,
        settings.metrics_host,
        settings.http_max_connections,
        settings.http_read_timeout_s,
    )


def kafka_clients(
    settings: Settings, metrics: Metrics, max_record_bytes: int, before_commit: BeforeCommit | None = None
) -> tuple[Consumer, Durable]:
    """`srguard run`'s consumer (read_committed, offsets committed only with the outputs) and the strategy that
    makes each batch durable. ``max_record_bytes`` (the judge's limit) becomes ``message.max.bytes``: one limit
    for both. ``before_commit``: a test's fault, called after a batch is produced and before its commit."""
    consumer = Consumer(
        settings.kafka_config(
            "consumer",
            **{
                "group.id": settings.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "statistics.interval.ms": settings.statistics_interval_ms,
                "stats_cb": metrics.observe_consumer_stats,
                "on_commit": log_failed_commit,
            },
        )
    )
    producer_config: dict[str, Any] = {"enable.idempotence": True, "acks": "all", "message.max.bytes": max_record_bytes}
    exactly_once = settings.processing_guarantee is ProcessingGuarantee.EXACTLY_ONCE
    if exactly_once:
        # Zombies are fenced by the consumer group's generation (KIP-447), so the id only has to be unique per
        # live process. A stable per-instance name (a StatefulSet pod's) lets a restart abort its predecessor's
        # open transaction at once.
        producer_config["transactional.id"] = settings.transactional_id or transactional_id(settings.group_id)
    # linger.ms is tuning, not correctness: SRGUARD_KAFKA_PRODUCER_LINGER_MS may change it.
    config = {"linger.ms": LINGER_MS, **settings.kafka_config("producer", **producer_config)}
    if exactly_once:
        return consumer, Transactional(lambda: Producer(config), consumer, metrics, before_commit)
    return consumer, CommitWhenDelivered(Producer(config), consumer, settings.commit_interval_ms / 1000)


def require_run_topics(settings: Settings) -> None:
    """`run`'s input and output topics exist on a cluster that answers (the reference ones: the feed checks);
    with ``strict_acls`` its principal may write none of the topics that decide its decisions."""
    names = [settings.topics.requests, *settings.topics.outputs()]
    require_topics(AdminClient(settings.kafka_config("admin")), names, settings.bootstrap_servers)
    if settings.strict_acls:
        t = settings.topics
        acls.require_narrow(settings.kafka_config("admin"), [t.requests, t.registrations, t.parties, t.devices])


def processor_app(settings: Settings, metrics: Metrics | None = None, before_commit: BeforeCommit | None = None) -> App:
    """``srguard run``: stores, feed, judge, processor and HTTP endpoint, sharing one serde and one metrics."""
    untrusted = settings.trust_store is None  # in any mode: audit's would-be rejections are judged without issuers
    if untrusted and settings.mode is Mode.ENFORCE and not settings.allow_untrusted_certificates:
        raise UntrustedCertificatesRefused(
            "enforce mode needs a trust store of SMKI Organisation CA certificates (--trust-store / "
            "SRGUARD_TRUST_STORE): without one any certificate with OU 03 and the right EUI-64 passes; "
            "--allow-untrusted-certificates (SRGUARD_ALLOW_UNTRUSTED_CERTIFICATES=true) runs without it"
        )
    metrics = metrics or Metrics()
    metrics.untrusted_certificates.set(1 if untrusted else 0)
    if untrusted:
        log.warning("certificate issuers are NOT checked: no trust store (%s mode)", settings.mode.value)
    reference = stores(settings)
    serde = serde_from(settings)  # one registry client per process
    step = judge(settings, settings.topics, settings.mode, reference, serde)
    anchors = step.reader.trust_store.anchors if step.reader.trust_store is not None else ()
    # When the first anchor lapses: from then on what it signed no longer passes (0: no trust store).
    metrics.trust_anchor_expiry.set(min((a.not_valid_after_utc.timestamp() for a in anchors), default=0))
    dlq = DlqPolicy(settings.dlq_max_consecutive, settings.dlq_max_ratio, settings.dlq_window)
    feed: FeedView = (
        reference_feed(settings, reference, serde)
        if settings.embedded_feed
        else WatchedFeed(reference.registrations.client, reference.registrations.keys.feed_status)
    )
    consumer, durable = kafka_clients(settings, metrics, step.max_record_bytes, before_commit)
    processor = SrProcessor(settings, step, metrics, dlq, consumer, durable, feed)
    feed.on_batch = metrics.observe_feed
    return App(processor, feed, health_endpoint(settings, metrics, processor.readiness, processor.liveness))


def feed_app(
    settings: Settings, reference: Stores, report: Callable[[FeedStatus], None]
) -> tuple[ReferenceFeed, HealthEndpoint]:
    """``srguard feed``: the one writer of the reference data, publishing its status for processors run
    with ``embedded_feed = false``, with its own /metrics, /healthz and /readyz."""
    metrics = Metrics()
    feed = reference_feed(settings, reference)
    client, key = reference.registrations.client, reference.registrations.keys.feed_status

    def after_batch(status: FeedStatus) -> None:
        metrics.observe_feed(status)
        try:
            publish_status(client, key, status)
        except RedisError as exc:  # the processors see its age grow and pause; the feed itself goes on
            log.warning("cannot publish the feed's status at %s: %s", key, exc)
        report(status)

    feed.on_batch = after_batch
    bound = settings.liveness_timeout_s
    readiness, liveness = (lambda: feed_readiness(feed, bound)), (lambda: feed_liveness(feed, bound))
    return feed, health_endpoint(settings, metrics, readiness, liveness)


RegisteredOf = Callable[[Sequence[tuple[str | None, int]]], list[str | None]]


def report_lookups(settings: Settings) -> tuple[PartyDirectory, RegisteredOf, Subjects | None] | None:
    """The party directory (entity EUI-64 -> market id at a time), (MPxN, at) -> the registered NO's market id
    and, for DUIS input, the subjects of DUIS SRs from the device inventory, on one Redis client; None when Redis
    is unreachable (ReferenceLost when it answers without the whole reference data: never a partial directory)."""
    reference = stores(settings)
    try:
        require_whole(reference.registrations)
        directory = reference.parties.load()
    except RedisError:
        return None

    def registered(queries: Sequence[tuple[str | None, int]]) -> list[str | None]:
        return [r.network_operator_id if r else None for r in reference.registrations.lookup_many(queries)]

    duis = settings.input_format is InputFormat.DUIS
    subjects = subjects_from(reference.devices.lookup_many, directory) if duis else None
    return directory, registered, subjects
