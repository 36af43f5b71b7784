"""The device NO-cell ledger end to end: a designed history through `srguard run`, then
`srguard ledger build|get|report`; building twice, or again from scratch, gives the same ledger."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import replace

import pytest
import redis

from processor.domain.model import DeviceType, UserRole
from processor.stream.serde import encode_service_request
from tests.e2e.srguard_process import SrguardRun, make_world

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
    steady = [p for p in pop.meter_points if len(p.registrations) == 1 and p.device_type is DeviceType.ESME][:5]
    changed = next(p for p in pop.meter_points if len(p.registrations) == 2 and p.device_type is DeviceType.ESME)
    a, b, c, d, g = steady
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
    ]
    before_enforcement = [place(c, other[c.device_id], t0 + DAY), place(g, other[g.device_id], t0 + DAY)]
    for sr in through_srguard:
        world.producer.produce(world.topics.requests, encode_service_request(sr), sr.target_device_id.encode())
    for sr in before_enforcement:  # accepted in audit mode before enforcement began
        world.producer.produce(world.topics.accepted, encode_service_request(sr), sr.target_device_id.encode())
    world.producer.flush(10)
    run = SrguardRun(world)
    try:
        run.wait_ready()
        run.wait_consumed(len(through_srguard))
        assert run.metric("srguard_sr_rejected_total") == 1
    finally:
        assert run.stop() == 0

    first = srguard(world, "ledger", "build")
    assert "11 NO-cell events" in first.stdout and "6 devices changed" in first.stdout
    report = srguard(world, "ledger", "report", "--csv-dir", str(tmp_path / "per-no"))
    out = report.stdout
    assert "6 devices in the ledger" in out and "4 network_operator" in out and "2 preloaded" in out
    assert "BGAS" in out and "placed wrong" in out and "registration changed" in out
    wrong = {}
    for path in (tmp_path / "per-no").glob("*.csv"):
        for row in csv.DictReader(path.open()):
            wrong[row["device_id"]] = (row["registered_network_operator"], row["certificates_held_by"], row["cause"])
    assert wrong == {
        g.device_id: (registered[g.device_id], other[g.device_id], "placed wrong"),
        changed.device_id: (changed.registrations[1].network_operator_id, old_operator, "registration changed"),
    }
    with_ledger = srguard(
        world, "report", "--topic", world.topics.rejected, "--with-ledger", "--out", str(tmp_path / "report")
    )
    assert "network_operator" in with_ledger.stdout and "preloaded" in with_ledger.stdout
    document = json.loads((tmp_path / "report" / "incidence.json").read_text())
    assert document["ledger"]["Ledger: devices by NO-cell state"] == {"network_operator": 4, "preloaded": 2}
    assert "Ledger: NO cells holding another" in (tmp_path / "report" / "incidence.html").read_text()
    history = srguard(world, "ledger", "get", c.device_id).stdout
    assert history.count("placed") == 2 and "now: network_operator" in history

    client = redis.Redis.from_url(world.redis)
    prefix = f"run{world.unique}"

    def snapshot(name: str) -> dict[bytes, dict]:
        return {key.split(b":", 2)[2]: client.hgetall(key) for key in client.scan_iter(match=f"{name}:ledger:*")}

    before = snapshot(prefix)
    again = srguard(world, "ledger", "build")
    assert "0 devices changed" in again.stdout and snapshot(prefix) == before
    client.delete(f"{prefix}:ledger-offsets")  # a full replay of the same SRs over the existing ledger
    replayed = srguard(world, "ledger", "build")
    assert "0 devices changed" in replayed.stdout and snapshot(prefix) == before
    fresh = f"fresh{world.unique}"  # rebuild from nothing, with the same party directory to name owners
    client.hset(f"{{{fresh}:party}}:entities", mapping=client.hgetall(f"{{{prefix}:party}}:entities"))
    srguard(world, "ledger", "build", SRGUARD_REDIS_KEY_PREFIX=fresh)
    assert snapshot(fresh) == before, "a rebuild from the same history gave another ledger"
