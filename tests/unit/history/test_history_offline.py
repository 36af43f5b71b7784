"""History and report rooms without a broker: archives, replay topics, rate limits, incidence statistics."""

from __future__ import annotations

import sys
import time

import fastavro
import pytest
from rich.console import Console

from processor.avro import codec
from processor.config import Mode, load_settings
from processor.devkit.simulate.population import build_population
from processor.devkit.simulate.traffic import TrafficGenerator, TrafficMix
from processor.domain.certificates import CertificateReader, TrustStore
from processor.domain.decision import Policy
from processor.names import Schema, Topics
from processor.replay.archive import RateLimit, read_archive, replay_archive
from processor.replay.topic import replay_topic, replay_topics
from processor.report.render import NO_CHARTS, print_terminal, write_html
from processor.report.sources import checked_by_secmp0063, rejections_and_scope
from processor.report.stats import aggregate
from processor.stream.judge import Judge
from processor.stream.records import Input, Source
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
        lambda queries: [POINTS[m].registration_at(at) if m in POINTS else None for m, at in queries],
        POPULATION.directory,
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


def test_only_service_request_archives_are_replayed(tmp_path):
    path = tmp_path / "rejections.avro"
    _archive(path, Schema.SR_REJECTION, REJECTIONS)
    with pytest.raises(ValueError, match="only ServiceRequest archives"):
        replay_archive(None, path, "t", codec(Schema.SERVICE_REQUEST))  # type: ignore[arg-type]


def test_a_replay_writes_only_to_prefixed_output_topics_and_needs_a_prefix():
    settings = load_settings()
    topics = replay_topics(settings, "replay.2019.")
    assert topics.requests == settings.topics.requests
    assert topics.registrations == settings.topics.registrations
    assert set(topics.outputs()) == {f"replay.2019.{t}" for t in settings.topics.outputs()}
    with pytest.raises(ValueError, match="prefix is required"):
        replay_topic(settings, None, None, "")


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


def test_statistics_from_archives_match_the_traffic_and_the_rate_uses_the_in_scope_count(tmp_path):
    rejections, requests = tmp_path / "rejections.avro", tmp_path / "requests.avro"
    _archive(rejections, Schema.SR_REJECTION, REJECTIONS)
    _archive(
        requests,
        Schema.SERVICE_REQUEST,
        [codec(Schema.SERVICE_REQUEST).decode(encode_service_request(i.sr)) for i in TRAFFIC],
    )
    records, in_scope = rejections_and_scope({}, codec(Schema.SERVICE_REQUEST), rejections, requests)
    stats = aggregate(records, lambda entity, at: "SUPPLIER", in_scope)
    expected_in_scope = sum(
        checked_by_secmp0063(
            i.sr.service_reference_variant, i.sr.user_role, i.sr.target_device_type, i.sr.remote_party_role
        )
        for i in TRAFFIC
    )
    assert stats.total == sum(1 for i in TRAFFIC if i.rejected) > 0
    assert stats.in_scope == expected_in_scope
    assert stats.rate_per_10k == pytest.approx(stats.total / expected_in_scope * 10_000)
    assert set(stats.by_supplier) == {"SUPPLIER"}
    assert (
        sum(stats.pairs.values())
        == stats.by_reason["foreign_network_operator"] + stats.by_reason["not_network_operator_certificate"]
    ), "pairs count only incidents whose placed certificates have an owner"
    console = Console(record=True, width=160)
    print_terminal(stats, console)
    assert f"{stats.total:,} incidents among {expected_in_scope:,} in-scope SRs" in console.export_text()


def test_the_html_report_is_written_without_matplotlib_and_says_where_the_charts_went(tmp_path, monkeypatch):
    stats = aggregate(REJECTIONS, lambda entity, at: None)
    with_charts = write_html(stats, tmp_path / "with.html", "test")
    assert with_charts > 0 and "data:image/png" in (tmp_path / "with.html").read_text()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as in the processor image: not installed
    assert write_html(stats, tmp_path / "without.html", "test") == 0
    page = (tmp_path / "without.html").read_text()
    assert "data:image/png" not in page and "srguard[report]" in page and f"{stats.total:,}" in page
    assert NO_CHARTS.startswith("Charts need matplotlib")
