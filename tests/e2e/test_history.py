"""History for analysts: archives, topic replay by the registration of each SR's own time, the report."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys

import pytest
import redis
from confluent_kafka.admin import AdminClient

from processor.avro import codec
from processor.history.archive import read_archive
from processor.registration.devices import DeviceInventoryStore
from processor.registration.feed import ReferenceFeed
from processor.registration.parties import PartyStore
from processor.registration.store import RegistrationStore
from processor.stream.serde import encode_service_request
from tests.e2e.srguard_process import make_world

pytestmark = pytest.mark.e2e
DAY = 86_400_000


@pytest.fixture
def world(kafka_bootstrap, redis_url, unique, tmp_path):
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path)
    client = redis.Redis.from_url(redis_url)
    feed = ReferenceFeed(
        {"bootstrap.servers": kafka_bootstrap},
        world.topics.registrations,
        world.topics.parties,
        RegistrationStore(client, f"run{unique}", 1024),
        PartyStore(client, f"run{unique}"),
        world.topics.devices,
        DeviceInventoryStore(client, f"run{unique}"),
        batch_size=2000,
    )
    assert feed.wait_ready(60), "reference data did not load"
    feed.close()
    return world


def srguard(world, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "processor", *args],
        env=world.env(COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


def test_export_then_replay_file_round_trip_is_lossless(world, tmp_path):
    traffic = world.traffic(800, seed=7)
    world.publish(traffic)
    first = tmp_path / "first.avro"
    out = srguard(world, "export", str(first))
    assert "exported 800 ServiceRequest records" in out.stdout
    copy_topic = f"copy.{world.unique}"
    srguard(world, "replay", "file", str(first), "--topic", copy_topic, "--rate", "100000")
    second = tmp_path / "second.avro"
    srguard(world, "export", str(second), "--topic", copy_topic)
    _, original = read_archive(first)
    _, copied = read_archive(second)
    by_id = lambda records: sorted(records, key=lambda r: r["request_id"])  # noqa: E731
    original_records, copied_records = by_id(original), by_id(copied)
    assert len(copied_records) == 800 and copied_records == original_records
    assert {r["request_id"] for r in original_records} == {i.sr.request_id for i in traffic}
    expected = {i.sr.request_id: encode_service_request(i.sr) for i in traffic}
    assert all(codec("ServiceRequest").encode(r) == expected[r["request_id"]] for r in copied_records)


def test_topic_replay_judges_each_sr_by_the_registration_of_its_own_time(world):
    point = next(p for p in world.population.meter_points if len(p.registrations) == 2)
    old, new = (r.network_operator_id for r in point.registrations)
    change = point.registrations[1].effective_from
    cases = {  # request counter -> (operator whose certificates are placed, submitted, rejected?)
        1: (old, change - DAY, False),
        2: (new, change - DAY, True),
        3: (old, change + DAY, True),
        4: (new, change + DAY, False),
        5: (old, change + 400 * DAY, True),  # after --until: not replayed
        6: (new, change - 400 * DAY, True),  # before --since: not replayed
    }
    for counter, (operator, submitted, _) in cases.items():
        sr = world.handover(point, operator, submitted, counter)
        world.producer.produce(
            world.topics.requests, encode_service_request(sr), sr.target_device_id.encode(), timestamp=submitted
        )
    world.producer.flush(10)
    since, until = str(change - 10 * DAY), str(change + 10 * DAY)
    out = srguard(world, "replay", "topic", "--since", since, "--until", until, "--output-prefix", "replay.")
    assert "replayed 4 SRs" in out.stdout and "2 audited" in out.stdout
    audit = world.outputs(f"replay.{world.topics.audit}", 2)
    accepted = world.outputs(f"replay.{world.topics.accepted}", 4)
    counters = sorted(int(codec("SrRejection").decode(m.value())["request_id"].rsplit(":", 1)[1]) for m in audit)
    assert counters == [2, 3], "each side of the change of NO must be judged by its own registration"
    assert len(accepted) == 4
    reasons = {codec("SrRejection").decode(m.value())["reason"] for m in audit}
    assert reasons == {"foreign_network_operator"}
    assert not world.outputs(world.topics.accepted, 1, timeout=2), "a replay must not touch the live outputs"


def test_report_numbers_equal_the_rejection_topic_and_every_chart_is_embedded(world, tmp_path):
    traffic = world.traffic(2500, seed=8)
    world.publish(traffic)
    srguard(world, "replay", "topic", "--output-prefix", "judged.", "--mode", "enforce")
    rejected_topic = f"judged.{world.topics.rejected}"
    expected = [i for i in traffic if i.rejected]
    messages = world.outputs(rejected_topic, len(expected))
    assert len(messages) == len(expected)
    out = srguard(
        world,
        "report",
        "--topic",
        rejected_topic,
        "--requests-topic",
        world.topics.requests,
        "--out",
        str(tmp_path / "report"),
    )
    stats = json.loads((tmp_path / "report" / "incidence.json").read_text())
    assert stats["total"] == len(messages)
    reasons = {}
    for m in messages:
        reason = codec("SrRejection").decode(m.value())["reason"]
        reasons[reason] = reasons.get(reason, 0) + 1
    assert {r["key"]: r["all_incidents"] for r in stats["breakdowns"]["reason"]} == reasons
    in_scope = sum(
        1
        for i in traffic
        if i.branch.value not in ("out_of_scope", "exempt_network_operator", "no_network_operator_certificates")
    )
    assert stats["in_scope"] == in_scope
    headline = {r["key"]: r for r in stats["breakdowns"]["headline"]}
    wrong = headline["wrong certificates"]
    assert wrong["wrong_certificate_per_10k"] == pytest.approx(wrong["wrong_certificate"] / in_scope * 10_000, abs=1e-3)
    suppliers = {r["key"]: r["all_incidents"] for r in stats["breakdowns"]["originating supplier"]}
    assert sum(suppliers.values()) == len(messages)
    assert set(suppliers) <= set(world.population.suppliers), "suppliers shown by market id"
    assert f"{wrong['wrong_certificate']:,} wrong certificates" in out.stdout
    page = (tmp_path / "report" / "incidence.html").read_text()
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 7 and "(7 charts)" in out.stdout
    for _, data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    csv_total = next(
        line
        for line in (tmp_path / "report" / "incidence.csv").read_text().splitlines()
        if line.startswith("headline,all incidents,")
    )
    assert csv_total.split(",")[5] == str(len(messages))

    archive = tmp_path / "rejections.avro"
    srguard(world, "export", str(archive), "--topic", rejected_topic, "--schema", "SrRejection")
    srguard(world, "report", "--archive", str(archive), "--out", str(tmp_path / "from-archive"))
    from_archive = json.loads((tmp_path / "from-archive" / "incidence.json").read_text())
    assert from_archive["total"] == stats["total"]
    counts = lambda document: {r["key"]: r["all_incidents"] for r in document["breakdowns"]["reason"]}  # noqa: E731
    assert counts(from_archive) == counts(stats)


def test_replay_and_evidence_refuse_a_redis_without_the_whole_reference_data(
    kafka_bootstrap, redis_url, unique, tmp_path
):
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path)  # topics published, no feed has run
    world.publish(world.traffic(50))
    admin_topics = set(AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics)
    for args in (("replay", "topic", "--output-prefix", "nofeed."), ("evidence", "--out", str(tmp_path / "ev"))):
        result = subprocess.run(
            [sys.executable, "-m", "processor", *args],
            env=world.env(COLUMNS="200"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 5 and len(lines) == 1, result.stderr[-2000:]
        assert "reference data in Redis is not whole" in lines[0] and "srguard feed" in lines[0]
    after = set(AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics)
    assert not {t for t in after - admin_topics if t.startswith("nofeed.")}, "a refused replay created topics"


def test_an_empty_device_inventory_is_said_not_shown_as_zero_devices(kafka_bootstrap, redis_url, unique, tmp_path):
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path)  # registrations and parties; no inventory

    def srguard(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "processor", *args]
        return subprocess.run(command, env=world.env(COLUMNS="200"), capture_output=True, text=True, timeout=120)

    assert srguard("feed", "--once").returncode == 0
    said = "the device inventory holds no ESME or GPF in service"
    report = srguard("ledger", "report")
    assert report.returncode == 0 and said in report.stderr, report.stderr
    evidence = srguard("evidence", "--out", str(tmp_path / "ev"))
    assert evidence.returncode == 8 and said in evidence.stderr, evidence.stderr
    assert f"no would-be-blocked SRs in {world.topics.audit}" in evidence.stderr
    assert f"{world.topics.audit} holds no records at all" in evidence.stderr
