"""The ledger judged against the truth of the report's time, on a real Redis: the device inventory (only
ESMEs and GPFs in service), registrations (the registered NO and the responsible Supplier now) and the
party directory (owners resolved now). Each device below is one of the review's cases."""

from __future__ import annotations

from functools import partial

import pytest
import redis

from processor.domain.certificates import CertificateReader
from processor.domain.identifiers import Fuel
from processor.domain.model import Device, DeviceStatus, DeviceType, Party, Registration, ServiceRequest
from processor.ledger.build import apply_changes
from processor.ledger.events import sr_change
from processor.ledger.model import Cell, Outcome, Placement, Status, commission, place, settle
from processor.ledger.population import Content, State, judge_devices, sections
from processor.ledger.store import LedgerStore
from processor.registration.devices import DeviceInventoryStore
from processor.registration.parties import PartyCredential, PartyStore
from processor.registration.store import RegistrationStore

pytestmark = pytest.mark.integration

DAY = 86_400_000
NOW = 1_750_000_000_000
T0 = NOW - 400 * DAY
BGAS, EDFE = "90-B3-D5-1F-30-10-00-01", "90-B3-D5-1F-30-10-00-02"
LOND, EELC, ACB = "90-B3-D5-1F-30-20-00-01", "90-B3-D5-1F-30-20-00-02", "90-B3-D5-1F-30-40-00-01"
MERGED = "90-B3-D5-1F-30-20-00-03"  # MANW's entity, SPEN's after a merger
RENAMED_AT = NOW - 100 * DAY
DS, KA = Cell.DIGITAL_SIGNING, Cell.KEY_AGREEMENT


def device(n: int) -> str:
    return f"00-12-4B-00-00-00-00-{n:02X}"


def mpan(n: int) -> str:
    return f"12{n:011d}"


@pytest.fixture
def world(redis_url, unique):
    client = redis.Redis.from_url(redis_url)
    prefix = f"truth{unique}"
    parties = PartyStore(client, prefix)
    owners = [
        (BGAS, Party("BGAS", "IS")),
        (EDFE, Party("EDFE", "IS")),
        (LOND, Party("LOND", "ED")),
        (EELC, Party("EELC", "ED")),
        (ACB, Party("DCCACB", "OU")),
        (MERGED, Party("MANW", "ED", valid_to=RENAMED_AT)),
        (MERGED, Party("SPEN", "ED", valid_from=RENAMED_AT)),
    ]
    parties.apply([PartyCredential(entity, party) for entity, party in owners])
    yield client, prefix, parties
    client.close()


def test_every_case_of_the_review(world):
    client, prefix, parties = world
    registrations = RegistrationStore(client, prefix, 64)
    inventory = DeviceInventoryStore(client, prefix, 64)
    ledger = LedgerStore(client, prefix, 64)
    registered = {n: "LOND" for n in range(1, 12)} | {6: "MANW", 8: "EELC"}
    changes = [Registration(mpan(n), Fuel.ELECTRICITY, no, "BGAS", T0 - DAY, 1) for n, no in registered.items()]
    changes += [
        Registration(mpan(5), Fuel.ELECTRICITY, "LOND", "EDFE", NOW - 50 * DAY, 2),  # change of supplier
        Registration(mpan(6), Fuel.ELECTRICITY, "SPEN", "BGAS", RENAMED_AT, 2),  # the NO renamed
        Registration(mpan(7), Fuel.ELECTRICITY, "EELC", "BGAS", NOW - 10 * DAY, 2),  # e.g. IDNO adoption
    ]
    registrations.apply(changes)
    kinds = {3: DeviceType.CHF, 11: DeviceType.GPF}
    statuses = {4: DeviceStatus.DECOMMISSIONED}
    inventory.apply(
        Device(device(n), kinds.get(n, DeviceType.ESME), (mpan(n),), statuses.get(n, DeviceStatus.COMMISSIONED), T0, 1)
        for n in range(1, 12)
    )

    def placed(n: int, days: int, entities: dict[Cell, str], status: Status = Status.CONFIRMED):
        return device(n), partial(place, entities=entities, placement=Placement(T0 + days * DAY, BGAS, n, status))

    def commissioned(n: int, at: int):
        return device(n), partial(commission, at=at, by=BGAS)

    chf = ServiceRequest(f"{BGAS}:{device(3)}:1", "8.1.1", 1, BGAS, None, device(3), DeviceType.CHF, None, None, (), T0)
    assert sr_change(chf, CertificateReader()) is None, "a CHF has no NO cells: its commissioning is not recorded"
    apply_changes(
        ledger,
        [
            commissioned(1, T0),
            placed(1, 1, {DS: LOND, KA: LOND}),  # correct
            commissioned(2, T0),
            placed(2, 1, {DS: LOND, KA: EELC}),  # DS right, KA wrong
            commissioned(4, T0),  # decommissioned since: left out
            commissioned(5, T0),  # never updated; the responsible supplier is EDFE now
            commissioned(6, T0),
            placed(6, 1, {DS: MERGED, KA: MERGED}),  # MANW's then, SPEN's (the registered NO) now
            commissioned(7, T0),
            placed(7, 1, {DS: LOND, KA: LOND}),  # right then; the registered NO changed since
            commissioned(8, T0),
            placed(8, 1, {DS: LOND, KA: LOND}, Status.PENDING),  # a future-dated SR, cancelled below
            (device(8), partial(settle, by=BGAS, counter=8, outcome=Outcome.CANCELLED)),
            (device(10), partial(place, entities={DS: ACB, KA: ACB}, placement=Placement(T0, "", 0, Status.BASELINE))),
            commissioned(11, NOW - 5 * DAY),  # commissioned 5 days ago
            placed(1, 2, {KA: LOND}),  # a KA-only update after: DS untouched
        ],
        {},
    )
    population = judge_devices(inventory.in_force_all(NOW), ledger, registrations, parties.load(), NOW, 30)
    states = {d.device_id: d.state for d in population.devices}
    assert states == {
        device(1): State.CORRECT,
        device(2): State.WRONG,
        device(5): State.NEVER_UPDATED,
        device(6): State.CORRECT,
        device(7): State.WRONG,
        device(8): State.NEVER_UPDATED,
        device(9): State.UNKNOWN,
        device(10): State.NEVER_UPDATED,
        device(11): State.RECENT,
    }
    assert population.left_out == {"CHF: no NO cells": 1, "ESME Decommissioned": 1}
    views = {d.device_id: d for d in population.devices}
    assert views[device(2)].contents == {DS: Content.REGISTERED_NO, KA: Content.OTHER_NO}
    assert views[device(2)].causes == ("placed wrong",) and views[device(2)].holders == ("EELC",)
    assert views[device(7)].causes == ("registration changed", "registration changed")
    assert views[device(5)].supplier == "EDFE"
    assert views[device(10)].contents == {DS: Content.ACB_OR_OTHER, KA: Content.ACB_OR_OTHER}
    titled = sections(population)
    assert titled["Ledger: never updated 30+ days after commissioning, by current Supplier"] == {"EDFE": 1, "BGAS": 2}
    assert titled["Ledger: holding another party's certificates, by cause"] == {
        "placed wrong": 1,
        "registration changed": 1,
    }
