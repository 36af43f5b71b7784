"""`srguard explain` (issue 39): for every SR of a 10,000-SR stream `srguard run` decided, explain's decision is
run's (Avro and DUIS); the command finds a rejection by its RequestID and says what would have made it pass;
bad input is one line with its exit code."""

from __future__ import annotations

import json

import pytest

from processor.avro import codec
from processor.config import Settings
from processor.duis.request import NS, read
from processor.history.explain import explain
from processor.kafka.reading import read_history
from processor.kafka.records import Input, Source
from processor.stream.serde import peek
from processor.wiring import explain_parts
from tests.e2e.srguard_process import Stack, simulated_and_judged, srguard

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SRS = 10_000


def _request_id(value: bytes, duis: bool) -> str:
    if duis:
        return str(read(value).header.findtext(f"{NS}RequestID"))
    return peek(value).request_id


@pytest.mark.parametrize("duis", [False, True], ids=["avro", "duis"])
def test_explain_reproduces_runs_decision_for_every_sr_and_explains_a_rejection(
    kafka_bootstrap, redis_url, unique, tmp_path, monkeypatch, duis
):
    stack = Stack(kafka_bootstrap, redis_url, tmp_path, f"explain{unique}{'d' if duis else 'a'}")
    if duis:
        stack.settings["SRGUARD_INPUT_FORMAT"] = "duis"
    simulated_and_judged(stack, ["--meter-points", "2000", *(["--duis"] if duis else [])], SRS, tmp_path)
    # What run recorded, per RequestID
    kafka = {"bootstrap.servers": kafka_bootstrap}
    recorded: dict[str, tuple[str, str | None, str | None]] = {}
    for batch in read_history(kafka, stack.topics.rejected):
        for m in batch:
            r = codec("SrRejection").decode(m.value())
            recorded[r["request_id"]] = ("rejected", r["response_code"], r["reason"])
    for batch in read_history(kafka, stack.topics.accepted):
        recorded.update({_request_id(m.value(), duis): ("accepted", None, None) for m in batch})
    inputs = [m for batch in read_history(kafka, stack.topics.requests) for m in batch]
    assert len(inputs) == SRS and len(recorded) == SRS, (len(inputs), len(recorded))
    # explain, in process, with run's settings: the same decision for every one
    for name, value in stack.env().items():
        if name.startswith("SRGUARD_"):
            monkeypatch.setenv(name, value)
    judge, next_of = explain_parts(Settings())
    differ = []
    for m in inputs:
        item = Input(m.key(), m.value(), [], Source(m.topic(), m.partition(), m.offset()), m.timestamp()[1])
        found = explain(judge, next_of, item)
        request_id = found.request_id or _request_id(m.value(), duis)
        if (found.outcome, found.code, found.reason) != recorded[request_id]:
            differ.append((request_id, found.outcome, found.code, found.reason, recorded[request_id]))
    assert not differ, differ[:5]
    rejected = sorted(rid for rid, (outcome, _, _) in recorded.items() if outcome == "rejected")
    assert rejected, "the simulated stream plants rejections"
    reason = recorded[rejected[0]][2]

    # The command, as the service desk runs it: a rejection found on the topics, in words and as JSON
    said = srguard(stack, "explain", rejected[0], cwd=tmp_path)
    assert said.returncode == 0, said.stderr[-2000:]
    text = " ".join(said.stdout.split())
    assert f"rejected {recorded[rejected[0]][1]} ({reason})" in text and f"on {stack.topics.rejected}" in text
    assert "would pass with" in text and "originator" in text and "registration" in text, text
    as_json = json.loads(srguard(stack, "explain", rejected[0], "--output", "json", cwd=tmp_path).stdout)
    assert as_json["reason"] == reason and as_json["would_pass"] and as_json["sr"]["target_device_id"]
    # An accepted SR: found on the accepted topic by its exact RequestID (one that is a prefix of others too)
    accepted = sorted(rid for rid, (outcome, _, _) in recorded.items() if outcome == "accepted")
    prefix = next((a for a in accepted if any(b != a and b.startswith(a) for b in recorded)), accepted[0])
    passed = json.loads(srguard(stack, "explain", prefix, "--output", "json", cwd=tmp_path).stdout)
    assert (passed["request_id"], passed["outcome"]) == (prefix, "accepted"), passed
    # In an archive `srguard export` wrote, instead of the topics
    archive = tmp_path / "requests.avro"
    exported = srguard(stack, "export", str(archive), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr[-2000:]
    archived = srguard(stack, "explain", rejected[0], "--archive", str(archive), "--output", "json", cwd=tmp_path)
    assert archived.returncode == 0, archived.stderr[-2000:]
    assert (json.loads(archived.stdout)["code"], json.loads(archived.stdout)["reason"]) == recorded[rejected[0]][1:]
    # A document judged now, from a file (DUIS: the input's bytes as they are)
    if duis:
        document = tmp_path / "sr.xml"
        document.write_bytes(next(m.value() for m in inputs if _request_id(m.value(), True) == rejected[0]))
        filed = srguard(stack, "explain", "--file", str(document), "--output", "json", cwd=tmp_path)
        assert filed.returncode == 0, filed.stderr[-2000:]
        assert json.loads(filed.stdout)["request_id"] == rejected[0]

    # Bad input: one line, a documented code, no traceback
    unknown = srguard(stack, "explain", "no-such-request", cwd=tmp_path)
    assert unknown.returncode == 1 and "no SR with RequestID no-such-request" in unknown.stderr
    junk = tmp_path / "junk.xml"
    junk.write_text("<not-an-sr/>")
    refused = srguard(stack, "explain", "--file", str(junk), cwd=tmp_path)
    assert refused.returncode == 2 and "is not an SR srguard can read" in refused.stderr, refused.stderr
    missing = srguard(stack, "explain", rejected[0], "--archive", str(tmp_path / "none.avro"), cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "none.avro" in missing.stderr
    both = srguard(stack, "explain", "--file", str(junk), "--archive", str(archive), cwd=tmp_path)
    assert both.returncode == 2 and "give a REQUEST_ID" in both.stderr
    for failed in (unknown, refused, missing, both):
        errors = [line for line in failed.stderr.splitlines() if not line.startswith("20")]  # not a log line
        assert "Traceback" not in failed.stderr and len(errors) == 1 and errors[0].startswith("error: "), errors
