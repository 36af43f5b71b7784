from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def _live_children_named(*names: str) -> set[int]:
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        if command in names and stat.rsplit(")", 1)[1].split()[0] != "Z":
            found.add(int(proc.name))
    return found


def test_demo_runs_end_to_end_and_leaves_nothing_behind(tmp_path):
    before = _live_children_named("tansu", "redis-server")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "processor",
            "demo",
            "--meter-points",
            "2000",
            "--srs",
            "8000",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "8,000 SRs judged" in out and "SR/s" in out
    assert "which matches the" in out and "Top incident pairs" in out and "/metrics was served at http://" in out
    assert "report: " in out and "incidence.html" in out
    pairs = out[out.index("Top incident pairs") :].split("rejections:")[0]
    assert " -> " in pairs and "(none" not in pairs and "?" not in pairs, "pairs must be wrong-owner incidents"

    assert {p.name for p in tmp_path.iterdir()} == {"incidence.csv", "incidence.json", "incidence.html"}
    assert _live_children_named("tansu", "redis-server") <= before, "the demo left a broker or Redis running"
