"""`srguard simulate publish` puts a generated world and its traffic into a running stack, and `srguard
run` with the trust store it wrote judges every SR as planted (issue 22)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.e2e.srguard_process import PARTITIONS, SrguardRun, Stack
from tests.kafka_io import read_all

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("duis", [False, True], ids=["avro", "duis"])
def test_a_simulated_world_published_into_a_stack_is_judged_as_planted(
    kafka_bootstrap, redis_url, unique, tmp_path, duis
):
    stack = Stack(
        kafka_bootstrap, redis_url, tmp_path, f"sim{unique}", {"SRGUARD_INPUT_FORMAT": "duis" if duis else "avro"}
    )
    topics = stack.topics
    oca = tmp_path / "oca.pem"
    published = subprocess.run(
        [sys.executable, "-m", "processor", "simulate", "publish", "--meter-points", "300", "--srs", "1500"]
        + ["--seed", "4", "--trust-store-out", str(oca)]
        + (["--duis"] if duis else []),
        env=stack.env(),
        cwd=tmp_path,  # the truth folder (cells.csv, planted.csv) goes to the working directory
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert published.returncode == 0, published.stdout + published.stderr
    said = re.search(
        r"published 1,500 SRs to \S+ \((Avro|DUIS XML); record times: ([^)]+)\), (\d+) of them planted",
        published.stdout,
    )
    assert said and said.group(1) == ("DUIS XML" if duis else "Avro"), published.stdout
    assert (said.group(2) == "now") != duis, "Avro: stamped now by default; DUIS: always the receipt time"
    planted = int(said.group(3))
    assert planted > 0 and ("device inventory records" in published.stdout) == duis
    assert f"srguard run --trust-store {oca}" in published.stdout and oca.read_bytes().startswith(b"-----BEGIN")
    run = SrguardRun(stack, "--trust-store", str(oca))
    try:
        run.wait_ready()
        run.wait_consumed(1500)
        rejected = read_all(kafka_bootstrap, topics.rejected, planted, partitions=PARTITIONS)
        consumed = run.metric("srguard_sr_consumed_total")
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    assert consumed == 1500 and len(rejected) == planted


def test_an_unwritable_trust_store_path_is_one_line(kafka_bootstrap, redis_url, unique, tmp_path):
    stack = Stack(kafka_bootstrap, redis_url, tmp_path, f"simbad{unique}")
    unwritable = str(tmp_path / "no-such-dir" / "oca.pem")
    result = subprocess.run(
        [sys.executable, "-m", "processor", "simulate", "publish", "--srs", "10", "--trust-store-out", unwritable],
        env={**stack.env(), "COLUMNS": "80"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "cannot write --trust-store-out" in line and "No such file or directory" in line


def test_sr_timestamps_make_a_history_the_readme_chain_can_export(kafka_bootstrap, redis_url, unique, tmp_path):
    """`--timestamps sr`: each Avro SR at its own time (mid-2019 .. mid-2025), so a 2019 window holds SRs."""
    stack = Stack(kafka_bootstrap, redis_url, tmp_path, f"simts{unique}")
    command = [sys.executable, "-m", "processor", "simulate", "publish", "--meter-points", "200", "--srs", "600"]
    published = subprocess.run(
        [*command, "--timestamps", "sr", "--trust-store-out", str(tmp_path / "oca.pem")],
        env=stack.env(),
        cwd=tmp_path,  # the truth folder (cells.csv, planted.csv) goes to the working directory
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert published.returncode == 0, published.stdout + published.stderr
    assert "record times: the SRs' own, 2019-" in published.stdout
    archive = tmp_path / "sr-2019.avro"
    exported = subprocess.run(
        [sys.executable, "-m", "processor", "export", "--since", "2019-01-01", "--until", "2020-01-01", str(archive)],
        env=stack.env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    count = int(re.search(r"exported ([\d,]+) ServiceRequest records", exported.stdout).group(1).replace(",", ""))
    assert 0 < count < 600, "the 2019 window holds some of the six years' SRs, not none and not all"


def test_a_duis_topic_is_exported_raw_replayed_byte_identical_and_reported(
    kafka_bootstrap, redis_url, unique, tmp_path
):
    """DUIS history: export archives each document as it was (DuisRequest), replay file puts it back byte for
    byte with its key and receipt time, replay topic judges it, and report rates it on the archive's scope."""
    import json

    from tests.kafka_io import read_all as read_topic

    stack = Stack(kafka_bootstrap, redis_url, tmp_path, f"simduis{unique}", {"SRGUARD_INPUT_FORMAT": "duis"})

    def srguard(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "processor", *args],
            env=stack.env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout

    srguard("simulate", "publish", "--duis", "--meter-points", "300", "--srs", "1200", "--trust-store-out", "oca.pem")
    srguard("feed", "--once")
    archive = tmp_path / "sr.avro"
    assert "exported 1,200 DuisRequest records" in srguard("export", str(archive))
    history = f"history.duis.{unique}"
    assert "published 1,200 records" in srguard("replay", "file", str(archive), "--topic", history)
    original = read_topic(kafka_bootstrap, stack.topics.requests, 1200, partitions=PARTITIONS)
    copied = read_topic(kafka_bootstrap, history, 1200, partitions=6)
    as_taken = sorted((m.key(), m.value(), m.timestamp()[1]) for m in original)
    assert sorted((m.key(), m.value(), m.timestamp()[1]) for m in copied) == as_taken, "byte for byte, key and time"
    replayed = srguard("replay", "topic", "--topic", history, "--output-prefix", f"r{unique}.", "--outputs", "audit")
    audited = int(re.search(r"([\d,]+) audited", replayed).group(1).replace(",", ""))
    assert audited > 0
    out = tmp_path / "report"
    audit = f"r{unique}.{stack.topics.audit}"
    srguard("report", "--topic", audit, "--requests-archive", str(archive), "--out", str(out))
    from_archive = json.loads((out / "incidence.json").read_text())
    srguard("report", "--topic", audit, "--requests-topic", history, "--out", str(tmp_path / "report2"))
    from_topic = json.loads((tmp_path / "report2" / "incidence.json").read_text())
    assert from_archive["total"] == audited and 0 < from_archive["in_scope"] < 1200
    assert from_archive["in_scope"] == from_topic["in_scope"], "the archive and the topic give one denominator"
