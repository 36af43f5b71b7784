"""README's history chain, run as written on a multi-year archive: export -> replay file (a fresh SR topic)
-> replay topic -> report, with the counts checked at every step against the traffic itself."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from processor.history.sources import checked_by_secmp0063
from processor.history.stats import INCIDENT_CLASS
from processor.times import parse_time
from tests.e2e.test_history import world  # noqa: F401  (the fixture: a world whose reference data is in Redis)

pytestmark = pytest.mark.e2e
EMPTY_WINDOW = 8


def srguard(world, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # noqa: F811
    return subprocess.run(
        [sys.executable, "-m", "processor", *args],
        env=world.env(COLUMNS="200", **(env or {})),
        capture_output=True,
        text=True,
        timeout=300,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_the_readme_history_chain_counts_what_judging_the_archive_directly_counts(world, tmp_path):  # noqa: F811
    traffic = world.traffic(3000, seed=21)  # SR times spread over 2019-06 .. 2025-06, published out of time order
    world.publish(traffic, sr_time=True)
    archive = tmp_path / "sr-2020-2022.avro"
    exported = [i for i in traffic if parse_time("2020-01-01") <= i.sr.submitted_at < parse_time("2023-01-01")]
    out = ok(srguard(world, "export", "--since", "2020-01-01", "--until", "2023-01-01", str(archive)))
    assert f"exported {len(exported):,} ServiceRequest records" in out

    fresh = f"history.sr.{world.unique}"  # history goes to a topic of its own, never the live SR topic
    out = ok(srguard(world, "replay", "file", str(archive), "--topic", fresh))
    assert f"published {len(exported):,} records" in out and "SR times from 2020-" in out

    since, until = parse_time("2021-01-01"), parse_time("2022-01-01")
    window = [i for i in exported if since <= i.sr.submitted_at < until]
    incidents = [i for i in window if i.rejected]
    assert incidents, "the window must hold incidents for the test to mean anything"
    replay = ["replay", "topic", "--topic", fresh, "--since", "2021-01-01", "--until", "2022-01-01"]
    replay += ["--output-prefix", "replay.2021."]
    out = ok(srguard(world, *replay, "--outputs", "audit"))
    assert f"replayed {len(window):,} SRs" in out and f"{len(incidents):,} audited" in out
    audit_topic = f"replay.2021.{world.topics.audit}"
    assert f"audit: {audit_topic} ({len(incidents):,} written, created (retention.ms=-1))" in out, "it says it made it"
    assert "accepted:" not in out, "--outputs audit writes no copy of the accepted SRs"

    again = ok(srguard(world, *replay, "--outputs", "audit"))
    assert "already complete" in again, "a finished replay run again judges nothing"
    other = srguard(world, *replay, "--outputs", "audit", "--mode", "enforce")
    assert other.returncode == 2 and "--restart" in other.stderr, "another run into the same prefix is refused"

    report_dir = tmp_path / "report-2021"
    out = ok(
        srguard(
            world,
            "report",
            "--topic",
            audit_topic,
            "--requests-topic",
            fresh,
            "--since",
            "2021-01-01",
            "--until",
            "2022-01-01",
            "--out",
            str(report_dir),
        )
    )
    document = json.loads((report_dir / "incidence.json").read_text())
    expected_classes = Counter(INCIDENT_CLASS[i.reason.value].value for i in incidents if i.reason)
    assert document["total"] == len(incidents)
    assert {k: v for k, v in document["by_class"].items() if v} == dict(expected_classes)
    in_scope = sum(
        checked_by_secmp0063(
            i.sr.service_reference_variant, i.sr.user_role, i.sr.target_device_type, i.sr.remote_party_role
        )
        for i in window
    )
    assert document["in_scope"] == in_scope
    weeks = document["breakdowns"][document["period"]]
    assert sum(row["all_incidents"] for row in weeks) == len(incidents)
    assert len(weeks) >= 52, "every period of the year is on the axis, empty ones as zero"
    assert "wrong certificates" in out and "registration-data gaps" in out
    assert document["settings"]["certificate issuers"] == "checked against the trust store"


def test_an_empty_window_fails_loudly_unless_allowed(world, tmp_path):  # noqa: F811
    world.publish(world.traffic(200, seed=22), sr_time=True)
    late = ["--since", "2030-01-01", "--until", "2031-01-01"]
    exported = srguard(world, "export", *late, str(tmp_path / "none.avro"))
    assert exported.returncode == EMPTY_WINDOW and "--allow-empty" in exported.stderr
    replayed = srguard(world, "replay", "topic", *late, "--output-prefix", "empty.")
    assert replayed.returncode == EMPTY_WINDOW and "holds no SRs from 2030-01-01" in replayed.stderr
    assert "its records are stamped 2019-" in replayed.stderr, "an empty window says what the topic does hold"
    reported = srguard(world, "report", "--topic", world.topics.audit, "--requests-topic", world.topics.requests, *late)
    assert reported.returncode == EMPTY_WINDOW
    allowed = srguard(world, "replay", "topic", *late, "--output-prefix", "empty2.", "--allow-empty")
    assert allowed.returncode == 0 and "replayed 0 SRs" in allowed.stdout
