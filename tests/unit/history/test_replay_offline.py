"""History and report rooms without a broker: archives, replay topics, rate limits, incidence statistics."""

from __future__ import annotations

import time

import fastavro
import pytest

from processor.avro import codec
from processor.config import Mode, load_settings
from processor.devkit.simulate.population import build_population
from processor.devkit.simulate.traffic import TrafficGenerator, TrafficMix
from processor.domain.certificates import CertificateReader, TrustStore
from processor.domain.decision import Policy
from processor.domain.reference import separate_lookups
from processor.history.archive import RateLimit, read_archive, replay_archive
from processor.history.replay import replay_topic, replay_topics
from processor.history.sources import checked_by_secmp0063
from processor.kafka.records import Input, Source
from processor.names import Schema, Topics
from processor.stream.judge import Judge
from processor.stream.serde import encode_service_request

POPULATION = build_population(seed=5, meter_points=300)
TRAFFIC = TrafficGenerator(POPULATION, TrafficMix(in_scope=0.6, incident_rate=0.5), seed=5).take(400)
POINTS = {p.mpxn: p for p in POPULATION.meter_points}


def _rejections() -> list[dict]:
    judge = Judge(
        Topics(),
        Mode.ENFORCE,
        Policy(),
        CertificateReader(trust_store=TrustStore([POPULATION.pki.oca])),
        separate_lookups(
            POPULATION.registrations_in_force,
            POPULATION.directory,
        ),
    )
    inputs = [
        Input(i.sr.target_device_id.encode(), encode_service_request(i.sr), [], Source("dcc.sr.requests", 0, n))
        for n, i in enumerate(TRAFFIC)
    ]
    result = judge(inputs)
    return [codec(Schema.SR_REJECTION).decode(o.value) for o in result.outputs if o.topic == Topics().rejected]


REJECTIONS = _rejections()


def _archive(path, schema: Schema, records) -> None:
    with path.open("wb") as out:
        fastavro.writer(out, codec(schema).schema, records)


def test_an_archive_reads_back_with_its_schema_name_and_a_non_archive_is_refused(tmp_path):
    path = tmp_path / "rejections.avro"
    _archive(path, Schema.SR_REJECTION, REJECTIONS)
    name, records = read_archive(path)
    assert name == "SrRejection" and list(records) == REJECTIONS
    junk = tmp_path / "junk.avro"
    junk.write_bytes(b"not avro at all")
    with pytest.raises(ValueError, match="not an Avro object container"):
        read_archive(junk)


def test_only_service_request_and_duis_archives_are_replayed(tmp_path):
    path = tmp_path / "rejections.avro"
    _archive(path, Schema.SR_REJECTION, REJECTIONS)
    with pytest.raises(ValueError, match="only ServiceRequest and DuisRequest archives"):
        replay_archive(None, path, "t", codec(Schema.SERVICE_REQUEST))  # type: ignore[arg-type]


def test_a_replay_writes_only_to_prefixed_output_topics_and_needs_a_prefix():
    settings = load_settings()
    topics = replay_topics(settings, "replay.2019.")
    assert topics.requests == settings.topics.requests
    assert topics.registrations == settings.topics.registrations
    assert set(topics.outputs()) == {f"replay.2019.{t}" for t in settings.topics.outputs()}
    with pytest.raises(ValueError, match="prefix is required"):
        replay_topic(settings, None, None, None, None, "")  # type: ignore[arg-type]


def test_rate_limit_spaces_calls_evenly():
    limit = RateLimit(200)
    started = time.monotonic()
    for _ in range(41):
        limit.wait()
    assert 0.18 <= time.monotonic() - started < 1.0
    unlimited = RateLimit(None)
    started = time.monotonic()
    for _ in range(10_000):
        unlimited.wait()
    assert time.monotonic() - started < 0.5


def test_the_denominator_is_what_the_rule_checks():
    assert checked_by_secmp0063("6.21", "IS", "ESME", "NetworkOperator")
    assert checked_by_secmp0063("6.21", "GS", "GPF", None), "a missing RemotePartyRole is checked (and rejected)"
    assert not checked_by_secmp0063("6.15.1", "ED", "ESME", "NetworkOperator"), "an NO's own 6.15.1 is exempt"
    assert not checked_by_secmp0063("6.21", "IS", "ESME", "Supplier")
    assert not checked_by_secmp0063("6.15.1", "IS", "GSME", "NetworkOperator")
