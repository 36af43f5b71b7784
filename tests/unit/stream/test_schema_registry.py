"""Confluent Schema Registry wire format, with confluent-kafka's serdes and its mock:// registry."""

from __future__ import annotations

import uuid

from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from processor.avro import RegistryAvro
from processor.config import Mode, Topics
from processor.devkit.simulate.population import build_population
from processor.devkit.simulate.traffic import TrafficGenerator, TrafficMix
from processor.domain.certificates import CertificateReader, TrustStore
from processor.domain.decision import Branch, Policy
from processor.domain.reference import separate_lookups
from processor.kafka.records import Input, Source
from processor.names import RedisKeys
from processor.registration.changes import registration_change
from processor.registration.publish import encode_registration
from processor.stream.judge import Judge
from processor.stream.serde import encode_service_request

POPULATION = build_population(seed=12, meter_points=300)


def test_the_whole_batch_step_in_registry_format():
    serde = RegistryAvro({"url": f"mock://{uuid.uuid4().hex}"})
    topics = Topics()
    traffic = TrafficGenerator(POPULATION, TrafficMix(in_scope=0.5, incident_rate=0.5), seed=1).take(300)
    values = [encode_service_request(i.sr, serde, topics.requests) for i in traffic]
    assert all(v[0] == 0 and len(v) > 5 for v in values), "magic byte and schema id expected"
    judge = Judge(
        topics,
        Mode.ENFORCE,
        Policy(),
        CertificateReader(trust_store=TrustStore([POPULATION.pki.oca])),
        separate_lookups(POPULATION.registrations_in_force, POPULATION.directory),
        serde=serde,
    )
    plain_garbage = Input(b"k", b"\x02abc", [], Source(topics.requests, 0, 999))
    result = judge([Input(b"k", v, [], Source(topics.requests, 0, n)) for n, v in enumerate(values)] + [plain_garbage])
    rejected = [o for o in result.outputs if o.topic == topics.rejected]
    assert len(rejected) == sum(1 for i in traffic if i.rejected) > 0
    assert result.accepted[Branch.OUT_OF_SCOPE.value] > 0 and result.dead[-1] is True
    reader = AvroDeserializer(serde.client)
    decoded = reader(rejected[0].value, SerializationContext(topics.rejected, MessageField.VALUE))
    assert decoded["response_code"].startswith("E06") and decoded["source_topic"] == topics.requests
    subjects = serde.client.get_subjects()
    assert f"{topics.requests}-value" in subjects and f"{topics.rejected}-value" in subjects


def test_reference_feed_records_in_registry_format():
    serde = RegistryAvro({"url": f"mock://{uuid.uuid4().hex}"})
    record = POPULATION.meter_points[0].registrations[0]
    value = encode_registration(record, serde, "dcc.registration.changes")
    assert registration_change(record.mpxn.encode(), value, serde, "dcc.registration.changes") == record


def test_run_uses_the_registry_format_when_configured(monkeypatch):
    """processor_app() must hand the registry serde to both the judge and the feed."""
    from types import SimpleNamespace

    from processor import wiring as app_module
    from processor.config import load_settings

    store = SimpleNamespace(lookup_many=lambda queries: [None] * len(queries), keys=RedisKeys())
    monkeypatch.setattr(app_module, "stores", lambda settings: app_module.Stores(store, store, store))
    monkeypatch.setattr(app_module, "record_limit", lambda config, topics: 1_000_000)  # no broker here
    captured = {}

    def fake_processor(settings, judge, metrics, dlq, consumer, durable, feed):
        captured["judge"] = judge
        return SimpleNamespace(
            observe_feed=lambda status: None, readiness=lambda: (True, "fake"), liveness=lambda: (True, "fake")
        )

    monkeypatch.setattr(app_module, "SrProcessor", fake_processor)
    built = app_module.processor_app(
        load_settings(
            schema_registry_url=f"mock://{uuid.uuid4().hex}", metrics_port=0, allow_untrusted_certificates=True
        )
    )
    built.endpoint.server.server_close()
    assert isinstance(built.feed.serde, RegistryAvro)
    assert isinstance(captured["judge"].serde, RegistryAvro)
    plain = app_module.processor_app(load_settings(metrics_port=0, allow_untrusted_certificates=True))
    plain.endpoint.server.server_close()
    assert not isinstance(plain.feed.serde, RegistryAvro) and not isinstance(captured["judge"].serde, RegistryAvro)


def test_enforce_mode_without_a_trust_store_refuses_to_build_unless_told(monkeypatch):
    from types import SimpleNamespace

    import pytest

    from processor import wiring as app_module
    from processor.config import load_settings

    with pytest.raises(app_module.UntrustedCertificatesRefused, match="enforce mode needs a trust store"):
        app_module.processor_app(load_settings(metrics_port=0))
    store = SimpleNamespace(lookup_many=lambda queries: [None] * len(queries), keys=RedisKeys())
    monkeypatch.setattr(app_module, "stores", lambda settings: app_module.Stores(store, store, store))
    monkeypatch.setattr(app_module, "record_limit", lambda config, topics: 1_000_000)
    audit = app_module.processor_app(load_settings(metrics_port=0, mode="audit"))  # audit rejects nothing: allowed
    audit.endpoint.server.server_close()
    # ... but its would-be rejections are judged without issuers, and the gauge says so (it said 0 before)
    assert audit.processor.metrics.registry.get_sample_value("srguard_untrusted_certificates_allowed") == 1
    allowed = app_module.processor_app(load_settings(metrics_port=0, allow_untrusted_certificates=True))
    allowed.endpoint.server.server_close()
    assert allowed.processor.metrics.registry.get_sample_value("srguard_untrusted_certificates_allowed") == 1
    allowed.processor.assigned.add(("t", 0))
    allowed.feed.status.ready = True
    ready, why = allowed.processor.readiness()
    for built in (audit, allowed):
        built.processor.close()
    assert ready and "certificate issuers are NOT checked" in why


def test_the_earliest_trust_anchor_expiry_is_a_gauge(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from processor import wiring as app_module
    from processor.config import load_settings
    from processor.devkit.simulate.pki import SmkiPki

    pki = SmkiPki()
    trust = tmp_path / "oca.pem"
    trust.write_bytes(pki.oca_pem())
    store = SimpleNamespace(lookup_many=lambda queries: [None] * len(queries), keys=RedisKeys())
    monkeypatch.setattr(app_module, "stores", lambda settings: app_module.Stores(store, store, store))
    monkeypatch.setattr(app_module, "record_limit", lambda config, topics: 1_000_000)
    built = app_module.processor_app(load_settings(metrics_port=0, trust_store=trust))
    built.endpoint.server.server_close()
    built.processor.close()
    expiry = built.processor.metrics.registry.get_sample_value("srguard_trust_anchor_earliest_expiry_timestamp_seconds")
    assert expiry == pki.oca.not_valid_after_utc.timestamp()
