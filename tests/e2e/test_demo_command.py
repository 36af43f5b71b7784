from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from processor.devkit.simulate.population import WITHOUT_SMKI_CREDENTIALS, build_population

pytestmark = pytest.mark.e2e


def _live_services_under(folder: Path) -> set[int]:
    """The live brokers and Redis servers working in ``folder`` (the demo's stack works in its temporary folder,
    which TMPDIR puts there): this test's own, however many other tests run beside it."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        alive = stat.rsplit(")", 1)[1].split()[0] != "Z"
        if command in SERVICES and alive and cwd.startswith(str(folder)):
            found.add(int(proc.name))
    return found


SERVICES = ("tansu", "java", "redis-server")


@pytest.mark.parametrize(
    ("broker", "meter_points", "srs"),
    [("kafka", "2000", "8000"), ("tansu", "500", "2000")],  # tansu: a smoke test that the fallback still works
)
def test_demo_runs_end_to_end_and_leaves_nothing_behind(tmp_path, tmp_path_factory, broker, meter_points, srs):
    temporary = tmp_path_factory.mktemp("demo-tmpdir")  # beside the report folder, whose contents are asserted
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "processor",
            "demo",
            "--meter-points",
            meter_points,
            "--srs",
            srs,
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin", "SRGUARD_STACK_BROKER": broker, "TMPDIR": str(temporary)},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert f"{int(srs):,} SRs judged" in out and "SR/s" in out
    assert ("apache-kafka" if broker == "kafka" else "tansu") in out
    assert "which matches the" in out and "Top incident pairs" in out and "/metrics was served at http://" in out
    assert "report: " in out and "incidence.html" in out
    # Quiet: no consumer settings on producers, and no client left to log its lost broker after the stack stops.
    assert "CONFWARN" not in result.stderr and "Connection refused" not in result.stderr, result.stderr[-2000:]
    assert not re.search(r"^%\d\|", result.stderr, re.MULTILINE), "raw librdkafka lines reached the user"
    if broker == "kafka":  # a demo on Apache Kafka has nothing to warn about (GETPID retries once did)
        assert " WARNING " not in result.stderr, result.stderr[-2000:]
    pairs = out[out.index("Top incident pairs") :].split("rejections:")[0]
    assert " -> " in pairs and "(none" not in pairs and "?" not in pairs, "pairs must be wrong-owner incidents"

    assert {p.name for p in tmp_path.iterdir()} == {
        "incidence.csv", "incidence.json", "incidence.html", "evidence", "suspects",
    }  # fmt: skip
    # The planted wrong registrations (1% by default), looked for by `suspects`: measured against the truth
    measured = re.search(r"precision ([\d.]+)% \((\d+) of (\d+) listed\), recall ([\d.]+)% \((\d+) of (\d+)", out)
    assert measured, out[-3000:]
    reachable = re.search(r"(\d+) of the (\d+) planted MPxNs saw a judged placement", out)
    assert reachable and int(measured.group(6)) == int(reachable.group(2)) == round(0.01 * int(meter_points))
    assert float(measured.group(1)) >= 90.0 and int(measured.group(5)) >= int(reachable.group(1)) * 0.9
    assert (tmp_path / "suspects" / "suspects.html").is_file()
    # The evidence pack: every generated device judged, every rejection counted against its NO.
    rows = list(csv.DictReader((tmp_path / "evidence" / "evidence.csv").open()))
    assert sum(int(r["devices_in_service"]) for r in rows) == int(meter_points)
    rejections = re.search(r"rejections: (\d+)", out)
    assert rejections and sum(int(r["would_block_srs"]) for r in rows) == int(rejections.group(1))
    assert "evidence pack: " in out and (tmp_path / "evidence" / "evidence.html").stat().st_size > 10_000
    # The generated world's IDNO without SMKI credentials: named, with its meter points, in the pack and output.
    uncredentialed = [r for r in rows if r["has_smki_credentials"] == "False" and int(r["meter_points"])]
    registered = {r.network_operator_id for r in build_population(1, int(meter_points)).registrations()}
    expected = [o for o in WITHOUT_SMKI_CREDENTIALS if o in registered]
    assert expected or broker == "tansu", "the 2,000-point world has an IDNO without credentials"
    assert [r["network_operator"] for r in uncredentialed] == expected, rows
    assert all(r["kind"] == "IDNO" for r in uncredentialed)
    named = ", ".join(f"{r['network_operator']} ({int(r['meter_points']):,} meter points)" for r in uncredentialed)
    assert f"NOs without SMKI credentials, registered for meter points: {named}" in out
    assert not _live_services_under(temporary), "the demo left a broker or Redis running"


def test_the_duis_demo_judges_duis_xml_against_the_inventory(tmp_path):
    command = ["demo", "--duis", "--meter-points", "1500", "--srs", "4000", "--report-dir", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "processor", *command],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin", "SRGUARD_STACK_BROKER": "kafka"},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert re.search(r"published .*, [\d,]+ device inventory records\n", out), out[:2000]
    assert "the SRs travel as DUIS XML" in out and "4,000 SRs judged" in out
    assert "which matches the" in out and "accepted (registered_owner)" in out
    # The ledger reads the accepted DUIS XML as it passed through: commissionings and placements.
    ledger = re.search(r"the ledger read ([\d,]+) accepted SRs, ([\d,]+) NO-cell changes", " ".join(out.split()))
    assert ledger and int(ledger.group(2).replace(",", "")) > 0, out[-2000:]
