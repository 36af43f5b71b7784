"""The incidence report without a broker: classes kept apart, rates with denominators and intervals, a true
time axis, the same numbers in the terminal, CSV, JSON and HTML."""

from __future__ import annotations

import csv
import json
import math
import sys
from collections import Counter
from pathlib import Path

import fastavro
import pytest
from rich.console import Console

from processor.avro import codec
from processor.domain.decision import Reason
from processor.history.page import NO_CHARTS, with_others, write_report
from processor.history.render import ReportContext, print_terminal
from processor.history.sources import RegisteredOf, checked_by_secmp0063, recorded_mode, rejections_and_scope
from processor.history.stats import (
    INCIDENT_CLASS,
    SUPPLIER,
    IncidenceStats,
    IncidentClass,
    Row,
    aggregate,
    auto_period,
    series,
    wilson,
)
from processor.names import Schema
from processor.stream.serde import encode_service_request
from tests.unit.history.test_replay_offline import REJECTIONS, TRAFFIC

DAY = 86_400_000
T2020 = 1_577_836_800_000  # 2020-01-01T00:00Z, a Wednesday


def _context(period: str = "week") -> ReportContext:
    return ReportContext("2020", {"incidents": "test"}, "0.1.0", {"mode": "audit"}, period, "now")


def _rejection(reason: str, at: int, supplier: str = "E1", registered: str | None = "_A") -> dict:
    return {
        "reason": reason,
        "response_code": "E062106",
        "registered_network_operator_id": registered,
        "certificate_party_ids": [],
        "originator_id": supplier,
        "as_of": at,
        "submitted_at": at,
        "service_reference_variant": "6.21",
        "target_device_type": "ESME",
    }


def _archive(path, schema: Schema, records) -> None:
    with path.open("wb") as out:
        fastavro.writer(out, codec(schema).schema, records)


def traffic_report(tmp_path: Path, registered_of: RegisteredOf | None = None) -> IncidenceStats:
    """The statistics of TRAFFIC judged (REJECTIONS), read back from archives, suppliers by entity id."""
    requests, rejections = tmp_path / "requests.avro", tmp_path / "rejections.avro"
    _archive(
        requests,
        Schema.SERVICE_REQUEST,
        [codec(Schema.SERVICE_REQUEST).decode(encode_service_request(i.sr)) for i in TRAFFIC],
    )
    _archive(rejections, Schema.SR_REJECTION, REJECTIONS)
    records, scope = rejections_and_scope(
        {}, codec(Schema.SERVICE_REQUEST), rejections, requests, lambda e, _at: e, None, None, registered_of
    )
    return aggregate(records, lambda e, _at: e, scope)


def test_every_reason_has_an_incident_class():
    assert set(INCIDENT_CLASS) == {reason.value for reason in Reason}
    assert INCIDENT_CLASS["foreign_network_operator"] is IncidentClass.WRONG_CERTIFICATE
    assert INCIDENT_CLASS["no_registration"] is IncidentClass.DATA_GAP
    assert INCIDENT_CLASS["unknown_device"] is IncidentClass.DATA_GAP


def test_wilson_interval_matches_known_values():
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = wilson(3, 100_000)
    assert low < 3 / 100_000 < high


def test_wrong_certificates_and_data_gaps_are_counted_apart_and_never_summed_in_the_headline():
    records = [_rejection("foreign_network_operator", T2020)] * 3 + [_rejection("no_registration", T2020)] * 5
    stats = aggregate(records, lambda _e, _at: None)
    assert stats.by_class[IncidentClass.WRONG_CERTIFICATE] == 3 and stats.by_class[IncidentClass.DATA_GAP] == 5
    console = Console(record=True, width=200)
    print_terminal(stats, _context(), console)
    text = console.export_text()
    assert "3 wrong certificates; 5 registration-data gaps; 0 request faults" in text
    assert "8 incidents" not in text


def test_rates_use_the_in_scope_srs_of_each_key_and_carry_intervals(tmp_path):
    stats = traffic_report(tmp_path)
    scope = stats.scope
    assert scope is not None
    expected = Counter(
        i.sr.originator_id
        for i in TRAFFIC
        if checked_by_secmp0063(
            i.sr.service_reference_variant, i.sr.user_role, i.sr.target_device_type, i.sr.remote_party_role
        )
    )
    assert scope is not None and scope.read == len(TRAFFIC) and scope.total == sum(expected.values())
    for row in stats.rows(SUPPLIER):
        assert row.in_scope == expected[row.key], "a supplier's rate is per its own in-scope SRs"
        rate = row.rate(IncidentClass.WRONG_CERTIFICATE)
        assert rate.per_10k == pytest.approx(row.counts[IncidentClass.WRONG_CERTIFICATE] / expected[row.key] * 10_000)
        low, high = rate.ci95_per_10k
        assert low <= rate.per_10k <= high
    assert stats.total == sum(1 for i in TRAFFIC if i.rejected)


def test_the_time_series_has_every_period_of_the_window_and_empty_ones_are_zero():
    records = [_rejection("foreign_network_operator", T2020), _rejection("no_registration", T2020 + 20 * DAY)]
    stats = aggregate(records, lambda _e, _at: None, window=(T2020, T2020 + 35 * DAY))
    weeks = series(stats, "week")
    assert [row.key for row in weeks] == [
        "2019-12-30",
        "2020-01-06",
        "2020-01-13",
        "2020-01-20",
        "2020-01-27",
        "2020-02-03",
    ]
    assert [row.total for row in weeks] == [1, 0, 0, 1, 0, 0]
    months = series(stats, "month")
    assert [(row.key, row.total) for row in months] == [("2020-01-01", 2), ("2020-02-01", 0)]
    assert auto_period("2020-01-01", "2020-02-01") == "day"
    assert auto_period("2020-01-01", "2021-06-01") == "week"
    assert auto_period("2019-01-01", "2025-01-01") == "month"


def test_a_top_chart_keeps_the_rest_in_one_others_bar():
    rows = [
        Row(f"k{n}", {kind: n if kind is IncidentClass.WRONG_CERTIFICATE else 0 for kind in IncidentClass}, 100)
        for n in range(20, 0, -1)
    ]
    shown = with_others(rows, per_key=True, top=5)
    assert [row.key for row in shown] == ["k20", "k19", "k18", "k17", "others (16)"]
    assert sum(row.total for row in shown) == sum(row.total for row in rows)
    assert shown[-1].in_scope == 1600, "the others' own in-scope SRs"
    assert with_others(rows, per_key=False, top=5)[-1].in_scope == 100, "one shared total stays the total"


def test_csv_json_and_terminal_show_the_same_numbers(tmp_path):
    stats = traffic_report(tmp_path)
    scope = stats.scope
    assert scope is not None
    charts = write_report(stats, _context("month"), tmp_path / "out")
    assert charts == 7  # the counts and the rates over time, five top-key charts
    document = json.loads((tmp_path / "out" / "incidence.json").read_text())
    with (tmp_path / "out" / "incidence.csv").open() as handle:
        table = list(csv.DictReader(handle))
    by_key = {(r["breakdown"], r["key"]): r for r in table}
    for name, rows in document["breakdowns"].items():
        for row in rows:
            line = by_key[(name, row["key"])]
            assert int(line["all_incidents"]) == row["all_incidents"]
            assert float(line["wrong_certificate_per_10k"] or "nan") == pytest.approx(
                row["wrong_certificate_per_10k"] if row["wrong_certificate_per_10k"] is not None else float("nan"),
                nan_ok=True,
            )
    headline = {r["key"]: r for r in document["breakdowns"]["headline"]}
    assert headline["wrong certificates"]["wrong_certificate"] == stats.by_class[IncidentClass.WRONG_CERTIFICATE]
    assert headline["wrong certificates"]["in_scope_srs"] == scope.total
    assert document["by_class"]["registration_data_gap"] == stats.by_class[IncidentClass.DATA_GAP]
    assert sum(int(r["all_incidents"]) for r in table if r["breakdown"] == "month") == stats.total
    page = (tmp_path / "out" / "incidence.html").read_text()
    assert f"{stats.by_class[IncidentClass.WRONG_CERTIFICATE]:,} wrong certificates" in page


def test_an_archive_window_selects_by_the_sr_time_and_version_1_records_fall_back_to_as_of(tmp_path):
    inside, outside = _rejection("foreign_network_operator", T2020), _rejection("foreign_network_operator", T2020 - DAY)
    old = {**_rejection("no_registration", T2020 + DAY)}
    del old["submitted_at"]  # an SrRejection written before version 2
    full = [
        {**codec(Schema.SR_REJECTION).decode(codec(Schema.SR_REJECTION).encode(_filled(r)))} for r in (inside, outside)
    ]
    path = tmp_path / "rejections.avro"
    _archive(path, Schema.SR_REJECTION, [*full, _filled(old) | {"submitted_at": None}])
    records, _ = rejections_and_scope(
        {}, codec(Schema.SR_REJECTION), path, None, lambda _e, _at: None, T2020, T2020 + 7 * DAY
    )
    stats = aggregate(records, lambda _e, _at: None)
    assert stats.by_class[IncidentClass.WRONG_CERTIFICATE] == 1 and stats.by_class[IncidentClass.DATA_GAP] == 1


def _filled(record: dict) -> dict:
    return {
        "request_id": "r",
        "detail": "d",
        "user_role": "IS",
        "target_device_id": "00-00-00-00-00-00-00-01",
        "mpxn": None,
        "certificate_entity_ids": [],
        "decided_at": record["as_of"],
        "source_topic": "t",
        "source_partition": 0,
        "source_offset": 0,
        "original": b"",
        **record,
    }


def test_the_html_report_is_written_without_matplotlib_and_says_where_the_charts_went(tmp_path, monkeypatch):
    stats = aggregate(REJECTIONS, lambda entity, at: None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as in the processor image: not installed
    assert write_report(stats, _context(), tmp_path) == 0
    page = (tmp_path / "incidence.html").read_text()
    assert "data:image/png" not in page and "srguard[report]" in page
    assert NO_CHARTS.startswith("Charts need matplotlib")


def test_registered_network_operator_rates_use_the_in_scope_srs_registered_to_that_operator(tmp_path):
    from processor.history.render import denominator_basis
    from processor.history.stats import NONE_REGISTERED, REGISTERED_NO
    from tests.unit.history.test_replay_offline import POINTS

    def operator(mpxn: str | None, at: int) -> str | None:
        registration = POINTS[mpxn].registration_at(at) if mpxn in POINTS else None
        return registration.network_operator_id if registration else None

    stats = traffic_report(tmp_path, lambda queries: [operator(m, at) for m, at in queries])
    scope = stats.scope
    expected = Counter(
        operator(i.sr.mpxn, i.sr.as_of) or NONE_REGISTERED
        for i in TRAFFIC
        if checked_by_secmp0063(
            i.sr.service_reference_variant, i.sr.user_role, i.sr.target_device_type, i.sr.remote_party_role
        )
    )
    rows = stats.rows(REGISTERED_NO)
    assert rows and all(row.in_scope == expected[row.key] for row in rows)
    assert denominator_basis(REGISTERED_NO, scope) == "in-scope SRs with this key"
    assert denominator_basis(REGISTERED_NO, None) == "all in-scope SRs"


@pytest.mark.parametrize(
    ("outcomes", "mode"),
    [
        ({"audit": 3}, "audit"),
        ({"rejected": 2}, "enforce"),
        ({"audit": 1, "rejected": 1}, "audit and enforce"),
        ({"": 4}, "unrecorded (no srguard-outcome header)"),
        ({}, "as recorded (an archive keeps no srguard-outcome header)"),
    ],
)
def test_the_report_takes_the_mode_from_what_srguard_recorded_on_each_record(outcomes, mode):
    """Never from the topic's name: an audit topic called "rejected-copy" is still audit."""
    assert recorded_mode(Counter(outcomes)) == mode


def test_more_incidents_than_their_denominator_give_no_interval_instead_of_a_crash():
    """`srguard report` died in wilson() (math domain error) when request faults outnumbered in-scope SRs."""
    from processor.history.stats import wilson

    assert all(math.isnan(bound) for bound in wilson(60, 42))
    low, high = wilson(3, 42)
    assert 0 < low < 3 / 42 < high < 1


@pytest.mark.parametrize(
    ("issuers", "said"),
    [
        ({"checked": 3}, "checked against the trust store"),
        ({"unchecked": 2}, "NOT checked (no trust store)"),
        ({"checked": 1, "unchecked": 4}, "checked against the trust store for 1; NOT checked (no trust store) for 4"),
        ({"": 4}, "unrecorded (no srguard-issuers header)"),
        ({}, "unrecorded (an archive keeps no srguard-issuers header)"),
    ],
)
def test_every_report_says_whether_certificate_issuers_were_checked(issuers, said):
    from processor.history.sources import recorded_issuers

    assert recorded_issuers(Counter(issuers)).startswith(said)


def test_the_headers_srguard_writes_on_a_rejection_are_tallied():
    from processor.history.sources import Recorded

    recorded = Recorded()
    recorded.count([("srguard-outcome", b"audit"), ("srguard-issuers", b"unchecked")])
    recorded.count([("srguard-outcome", b"rejected")])
    assert recorded.outcomes == Counter({"audit": 1, "rejected": 1})
    assert recorded.issuers == Counter({"unchecked": 1, "": 1})


def test_a_certificate_owner_is_rated_against_the_in_scope_srs_placing_its_certificates(tmp_path):
    """Not against every in-scope SR: an owner whose certificates few SRs place gets its own denominator."""
    from processor.history.stats import OWNER

    stats = traffic_report(tmp_path)
    assert stats.scope is not None and stats.scope.per_key(OWNER)
    placed = stats.scope.by[OWNER]
    assert sum(placed.values()) >= stats.scope.total, "every in-scope SR places some owner's certificates"
    assert len(placed) > 1 and max(placed.values()) < stats.scope.total, "owners have denominators of their own"
    for row in stats.rows(OWNER):
        assert row.in_scope == placed[row.key]


def test_every_reason_reads_as_words_and_operators_carry_their_names():
    from processor.domain.decision import Reason
    from processor.history.render import REASON_TEXT, key_label
    from processor.history.stats import OWNER, REASON

    assert set(REASON_TEXT) == set(Reason), "a reason without words would show as its code"
    assert key_label(REASON, "foreign_network_operator") == "another Network Operator's certificates"
    assert key_label(OWNER, "LOND") == "LOND (UKPN London)" and key_label(OWNER, "VATT") == "VATT"
