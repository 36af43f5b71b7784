"""The device NO-cell ledger end to end: a designed history through `srguard run`, then
`srguard ledger build|get|report`; building twice, or again from scratch, gives the same ledger."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace

import pytest
import redis

from processor.avro import codec
from processor.devkit.simulate.duis import inventory
from processor.devkit.simulate.population import WITHOUT_SMKI_CREDENTIALS
from processor.domain.identifiers import Fuel
from processor.domain.model import DeviceType, UserRole
from processor.duis.response import response_xml
from processor.registration.parties import EntityWithdrawal, PartyStore
from processor.registration.publish import publish_devices
from processor.stream.serde import encode_service_request
from tests.duis_alerts import device_alert
from tests.e2e.srguard_process import SrguardRun, make_world
from tests.e2e.test_report_page import CHROMIUM, nothing_cut_at_the_right, screenshot

pytestmark = pytest.mark.e2e
DAY = 86_400_000


def srguard(world, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "processor", *args],
        env=world.env(COLUMNS="220", **env),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


def test_ledger_from_a_designed_history(kafka_bootstrap, redis_url, unique, tmp_path):
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path)
    pop = world.population
    steady = [p for p in pop.meter_points if len(p.registrations) == 1 and p.device_type is DeviceType.ESME][:7]
    changed = next(p for p in pop.meter_points if len(p.registrations) == 2 and p.device_type is DeviceType.ESME)
    a, b, c, d, g, cancelled, failed = steady
    t0 = changed.registrations[1].effective_from - 100 * DAY
    registered = {p.device_id: p.registrations[0].network_operator_id for p in steady}
    other = {
        p.device_id: next(o.party_id for o in pop.operators_of(p.fuel) if o.party_id != registered[p.device_id])
        for p in steady
    }
    counter = iter(range(1000))

    def commission(point, at):
        sr = world.handover(point, registered.get(point.device_id, "LOND"), at, next(counter))
        return replace(sr, service_reference_variant="8.1.1", remote_party_role=None, certificates=())

    def place(point, operator, at):
        return world.handover(point, operator, at, next(counter))

    def workaround(point, at):  # the NO's own 6.15.1 replacing a wrong certificate with its own
        sr = place(point, registered[point.device_id], at)
        operator = pop.network_operators[registered[point.device_id]]
        return replace(sr, service_reference_variant="6.15.1", user_role=UserRole.ED, originator_id=operator.entity_id)

    old_operator = changed.registrations[0].network_operator_id
    through_srguard = [
        commission(a, t0),
        place(a, registered[a.device_id], t0 + DAY),
        commission(b, t0),
        commission(c, t0),
        workaround(c, t0 + 2 * DAY),
        commission(d, t0),
        place(d, other[d.device_id], t0 + DAY),  # rejected by enforcement: changes nothing
        commission(changed, t0),
        place(changed, old_operator, t0 + DAY),  # right then, wrong after the change
        commission(g, t0),
        commission(cancelled, t0),
        place(cancelled, registered[cancelled.device_id], t0 + DAY),  # future-dated, then cancelled
        commission(failed, t0),
        place(failed, registered[failed.device_id], t0 + DAY),  # the device answers with an error
    ]
    before_enforcement = [place(c, other[c.device_id], t0 + DAY), place(g, other[g.device_id], t0 + DAY)]
    publish_devices(world.producer, world.topics.devices, inventory(pop, t0 - DAY))
    for sr in through_srguard:
        world.producer.produce(world.topics.requests, encode_service_request(sr), sr.target_device_id.encode())
    for sr in before_enforcement:  # accepted in audit mode before enforcement began
        world.producer.produce(world.topics.accepted, encode_service_request(sr), sr.target_device_id.encode())
    outcomes = f"dcc.sr.outcomes.{unique}"
    by_device = {sr.target_device_id: sr for sr in through_srguard if sr.service_reference_variant != "8.1.1"}
    responses = [  # DUIS Response XML and Avro SrOutcome on one topic, as the ledger reads either
        response_xml(by_device[a.device_id].request_id, "I0", "6.21", t0 + DAY),
        outcome(by_device[cancelled.device_id].request_id, "I99", cancelled=True),
        response_xml(by_device[failed.device_id].request_id, "E062101", "6.21", t0 + DAY),
        response_xml(by_device[changed.device_id].request_id, "I0", "6.21", t0 + DAY),
        device_alert(f"{a.device_id}:{pop.suppliers['BGAS'].entity_id}:1", t0 + 2 * DAY),  # answers no SR
    ]
    for value in responses:
        world.producer.produce(outcomes, value)
    world.producer.flush(10)
    run = SrguardRun(world)
    try:
        run.wait_ready()
        run.wait_consumed(len(through_srguard))
        assert run.metric("srguard_sr_rejected_total") == 1
    finally:
        assert run.stop() == 0

    typo = subprocess.run(
        [sys.executable, "-m", "processor", "ledger", "build", "--outcomes", f"{outcomes}.typo"],
        env=world.env(COLUMNS="220"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert typo.returncode == 2 and f"{outcomes}.typo does not exist" in typo.stderr, typo.stderr
    assert "ledger: read" not in typo.stdout, "nothing is applied before every source is known to exist"
    first = srguard(world, "ledger", "build", "--outcomes", outcomes)
    assert "19 NO-cell changes" in first.stdout, first.stdout  # 8 commissionings, 7 placements, 4 outcomes
    assert "skipped: 1 device or DCC alert: answers no SR" in first.stdout, first.stdout
    report = srguard(world, "ledger", "report", "--csv-dir", str(tmp_path / "per-no"))
    out = report.stdout
    assert f"{len(pop.meter_points):,} ESME/GPF devices in service" in out
    assert "never updated" in out and "placed wrong" in out and "registration changed" in out
    wrong = {}
    for path in (tmp_path / "per-no").glob("*.csv"):
        for row in csv.DictReader(path.open()):
            wrong.setdefault(row["device_id"], set()).add(
                (row["registered_network_operator"], row["held_by"], row["cause"])
            )
    assert wrong == {
        g.device_id: {(registered[g.device_id], other[g.device_id], "placed wrong")},
        changed.device_id: {(changed.registrations[1].network_operator_id, old_operator, "registration changed")},
    }
    with_ledger = srguard(
        world, "report", "--topic", world.topics.rejected, "--with-ledger", "--out", str(tmp_path / "report")
    )
    assert "never updated" in with_ledger.stdout
    document = json.loads((tmp_path / "report" / "incidence.json").read_text())
    states = document["ledger"]["Ledger: ESME/GPF devices in service by NO-cell state"]
    unknown = len(pop.meter_points) - 8  # no commissioning in the history, no snapshot
    assert states == {"correct": 2, "never updated": 4, "another party's certificates": 2, "no known state": unknown}
    unconfirmed = document["ledger"]["Ledger: of which with an unconfirmed placement"]
    assert unconfirmed == {"correct": 1, "another party's certificates": 1}  # c's workaround, g's wrong SR
    assert "Ledger: holding another" in (tmp_path / "report" / "incidence.html").read_text()
    history = srguard(world, "ledger", "get", a.device_id).stdout
    assert "confirmed" in history and registered[a.device_id] in history and "commissioned" in history

    client = redis.Redis.from_url(world.redis)
    prefix = f"run{world.unique}"

    def snapshot(name: str) -> dict[bytes, dict]:
        found = {key.split(b":", 2)[2]: client.hgetall(key) for key in client.scan_iter(match=f"{name}:ledger:*")}
        return found | {b"entities": client.hgetall(f"{name}:ledger-entities")}

    before = snapshot(prefix)
    again = srguard(world, "ledger", "build", "--outcomes", outcomes)
    assert "0 devices changed" in again.stdout and snapshot(prefix) == before
    client.delete(f"{prefix}:ledger-offsets")  # a full replay of the same SRs and outcomes over the ledger
    srguard(world, "ledger", "build", "--outcomes", outcomes)
    assert snapshot(prefix) == before
    fresh = f"fresh{world.unique}"  # rebuild from nothing
    srguard(world, "ledger", "build", "--outcomes", outcomes, SRGUARD_REDIS_KEY_PREFIX=fresh)
    assert snapshot(fresh) == before, "a rebuild from the same history gave another ledger"
    # The Avro accepted topic read as DUIS: nothing decodes, and the user is told which setting to check.
    wrong = srguard(world, "ledger", "build", SRGUARD_INPUT_FORMAT="duis", SRGUARD_REDIS_KEY_PREFIX=f"x{world.unique}")
    read = len(through_srguard) - 1 + len(before_enforcement)  # one SR was rejected
    assert f"{read} undecodable" in wrong.stdout and "could be read as duis" in wrong.stdout, wrong.stdout


def outcome(request_id: str, code: str, cancelled: bool = False) -> bytes:
    record = {
        "request_id": request_id,
        "service_reference_variant": "6.21",
        "response_code": code,
        "cancelled": cancelled,
        "responded_at": 1_700_000_000_000,
    }
    return codec("SrOutcome").encode(record)


def test_evidence_pack_per_network_operator(kafka_bootstrap, redis_url, unique, tmp_path):
    """Would-be-blocked SRs and never-updated devices as shares of each NO's devices, and an IDNO that holds
    no SMKI credentials, from the same world as `srguard run` and the ledger see it."""
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path)
    pop = world.population
    now = int(time.time() * 1000)
    points = [p for p in pop.meter_points if len(p.registrations) == 1]
    wrong_target, never = points[0], points[1:4]
    operator = wrong_target.registrations[0].network_operator_id
    other = next(o.party_id for o in pop.operators_of(wrong_target.fuel) if o.party_id != operator)
    at = now - 400 * DAY
    srs = [world.handover(wrong_target, other, at, 1)]
    srs += [
        replace(
            world.handover(p, "LOND", at, n), service_reference_variant="8.1.1", remote_party_role=None, certificates=()
        )
        for n, p in enumerate(never, start=2)
    ]
    publish_devices(world.producer, world.topics.devices, inventory(pop, at - DAY))
    for sr in srs:
        world.producer.produce(world.topics.requests, encode_service_request(sr), sr.target_device_id.encode())
    world.producer.flush(10)
    run = SrguardRun(world)
    try:
        run.wait_ready()
        run.wait_consumed(len(srs))
    finally:
        assert run.stop() == 0
    idno = next(
        p.registration_at(now).network_operator_id
        for p in points
        if int(p.mpxn[:2]) >= 24
        and p.fuel is Fuel.ELECTRICITY
        and p.registration_at(now).network_operator_id in pop.network_operators
    )
    prefix = f"run{world.unique}"
    PartyStore(redis.Redis.from_url(world.redis), prefix).apply(
        [EntityWithdrawal(pop.network_operators[idno].entity_id)]
    )
    srguard(world, "ledger", "build")
    out = tmp_path / "evidence"
    printed = srguard(world, "evidence", "--audit", world.topics.rejected, "--out", str(out)).stdout
    registered_now = Counter(p.registration_at(now).network_operator_id for p in pop.meter_points)
    # The one whose credentials were withdrawn, and the generated world's IDNO that never had any.
    missing = sorted({idno, *(o for o in WITHOUT_SMKI_CREDENTIALS if registered_now[o])})
    assert f"{len(missing)} NOs without SMKI credentials ({', '.join(missing)})" in printed
    rows = {row["network_operator"]: row for row in csv.DictReader((out / "evidence.csv").open())}
    assert sum(int(r["devices_in_service"]) for r in rows.values()) == len(pop.meter_points)
    assert {op: int(r["meter_points"]) for op, r in rows.items()} == registered_now
    blocked = rows[operator]
    assert (blocked["would_block_srs"], blocked["would_block_devices"]) == ("1", "1")
    assert float(blocked["would_block_devices_pct"]) == pytest.approx(
        100 / int(blocked["devices_in_service"]), abs=1e-4
    )
    never_by_operator = Counter(p.registration_at(now).network_operator_id for p in never)
    assert {
        op: int(r["never_updated_devices"]) for op, r in rows.items() if int(r["never_updated_devices"])
    } == never_by_operator
    assert (rows[idno]["has_smki_credentials"], rows[idno]["kind"], rows[operator]["kind"]) == (
        "False",
        "IDNO",
        "GT" if wrong_target.fuel is Fuel.GAS else "DNO" if int(wrong_target.mpxn[:2]) < 24 else "IDNO",
    )
    document = json.loads((out / "evidence.json").read_text())
    assert document["without_credentials"] == missing
    page = (out / "evidence.html").read_text()
    assert f"with no SMKI credentials ({len(missing)})" in page and page.count("<img") >= 2
    assert "True" not in page and "False" not in page and ".0000" not in page, "words and rounded shares, for people"
    if CHROMIUM:  # the per-NO table fits a laptop's page: nothing cut at 1280 px
        assert nothing_cut_at_the_right(screenshot(out / "evidence.html", tmp_path / "evidence.png", 1280, 4000))


def test_a_snapshot_of_devices_cells_is_loaded_and_bad_lines_are_named(redis_url, unique, tmp_path):
    snapshot = tmp_path / "cells.csv"
    snapshot.write_text(
        "device_id,cell,entity_id,as_of\n"
        "00-12-4B-00-00-00-01-01,ds,90-B3-D5-1F-30-20-00-01,2020-01-01\n"
        "00124b0000000101,KA,90b3d51f30200001,2020-01-01\n"
        "00-12-4B-00-00-00-01-02,key_agreement,90-B3-D5-1F-30-20-00-02,2020-02-01T00:00:00Z\n"
        "00-12-4B-00-00-00-01-03,topup,90-B3-D5-1F-30-20-00-02,2020-02-01\n"
        "not-a-device,ds,90-B3-D5-1F-30-20-00-02,2020-02-01\n"
        "00-12-4B-00-00-00-01-04,ds\n"
    )
    env = {"SRGUARD_REDIS_URL": redis_url, "SRGUARD_REDIS_KEY_PREFIX": f"snap{unique}", "COLUMNS": "200"}

    def srguard_here(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "processor", *args], env=env, capture_output=True, text=True)

    loaded = srguard_here("ledger", "baseline", str(snapshot))
    assert loaded.returncode == 1, loaded.stdout + loaded.stderr
    assert "3 cells of 2 devices read, 2 devices changed, 3 lines rejected" in loaded.stdout
    assert "line 5: cell 'topup' is not ds or ka" in loaded.stderr and "line 6:" in loaded.stderr
    assert "line 7: fewer than the 4 columns" in loaded.stderr
    shown = srguard_here("ledger", "get", "00-12-4B-00-00-00-01-01")
    assert shown.returncode == 0 and shown.stdout.count("snapshot") == 4, shown.stdout  # by and request, per cell
    as_json = json.loads(srguard_here("ledger", "get", "00124b0000000101", "-o", "json").stdout)
    cells = as_json["cells"]
    assert as_json["device_id"] == "00-12-4B-00-00-00-01-01" and set(cells) == {"ds", "ka"}
    assert cells["ds"]["entity"] == "90-B3-D5-1F-30-20-00-01" and cells["ds"]["request_id"] is None  # a snapshot
    again = srguard_here("ledger", "baseline", str(snapshot))
    assert "0 devices changed" in again.stdout, "the same snapshot twice changes nothing"
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(snapshot.read_bytes() + "00-12-4B-00-00-00-01-09,ds,caf\xe9,2020-01-01\n".encode("latin-1"))
    refused = srguard_here("ledger", "baseline", str(latin1))
    assert refused.returncode == 2 and "nothing was loaded" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
