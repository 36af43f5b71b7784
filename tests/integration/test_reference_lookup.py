"""RedisReference on the real Redis: what a batch needs, in one round trip when the SRs name their MPxNs."""

from __future__ import annotations

import pytest
import redis

from processor.domain.identifiers import Fuel
from processor.domain.model import Party, Registration
from processor.errors import ReferenceLost
from processor.names import REFERENCE_WHOLE
from processor.registration.devices import DeviceInventoryStore, device
from processor.registration.lookup import RedisReference
from processor.registration.parties import DirectoryCache, PartyCredential, PartyStore
from processor.registration.store import RegistrationStore

pytestmark = pytest.mark.integration
DAY = 86_400_000
T0 = 1_600_000_000_000
ESME, GPF = "00-DB-12-34-56-78-90-A1", "00-DB-12-34-56-78-90-A2"
MPAN, MPRN = "1200000000020", "1234567890"
ENTITY = "90-B3-D5-1F-30-02-00-00"


@pytest.fixture
def world(redis_url, unique):
    with redis.Redis.from_url(redis_url) as client:
        registrations = RegistrationStore(client, f"r{unique}", buckets=64)
        devices = DeviceInventoryStore(client, f"r{unique}", buckets=64)
        parties = PartyStore(client, f"r{unique}")
        registrations.apply(
            [
                Registration(MPAN, Fuel.ELECTRICITY, "LOND", "BGAS", T0, 1),
                Registration(MPAN, Fuel.ELECTRICITY, "SEEB", "BGAS", T0 + 10 * DAY, 2),
                Registration(MPRN, Fuel.GAS, "NGGD", "BGAS", T0, 1),
            ]
        )
        devices.apply(
            [device(ESME, "ESME", [MPAN], "Commissioned", T0, 1), device(GPF, "GPF", [MPRN], "Commissioned", T0, 1)]
        )
        parties.apply([PartyCredential(ENTITY, Party("LOND", "ED"))])
        client.set(registrations.keys.reference_epoch, REFERENCE_WHOLE + b":test")  # what a caught-up feed says
        yield RedisReference(registrations, devices, DirectoryCache(parties)), parties


@pytest.fixture
def round_trips(monkeypatch):
    """Every pipeline execution and every single command sent, counted."""
    calls: list[str] = []
    pipeline_execute, command = redis.client.Pipeline.execute, redis.Redis.execute_command
    monkeypatch.setattr(
        redis.client.Pipeline,
        "execute",
        lambda self, *a, **k: calls.append("pipeline") or pipeline_execute(self, *a, **k),
    )
    monkeypatch.setattr(
        redis.Redis, "execute_command", lambda self, *a, **k: calls.append(a[0]) or command(self, *a, **k)
    )
    return calls


def test_srs_naming_their_mpxns_take_one_round_trip(world, round_trips):
    reference, _ = world
    reference([(ESME, T0)], {MPAN})  # the first batch loads the directory
    round_trips.clear()
    batch = reference([(ESME, T0 + DAY), (GPF, T0 + DAY), ("not-an-eui", T0)], {MPAN, MPRN})
    found = batch.registrations([(MPAN, T0 + DAY), (MPAN, T0 + 11 * DAY), (MPRN, T0 + DAY), (None, T0)])
    assert round_trips == ["pipeline"]
    assert [d.mpxns if d else None for d in batch.devices] == [(MPAN,), (MPRN,), None]
    assert [r.network_operator_id if r else None for r in found] == ["LOND", "SEEB", "NGGD", None]
    assert batch.directory.owner(ENTITY, T0).party_id == "LOND"


def test_mpxns_only_the_inventory_names_take_a_second(world, round_trips):
    reference, _ = world
    reference([], set())
    round_trips.clear()
    batch = reference([(GPF, T0 + DAY)], set())  # a DUIS SR names no MPxN
    (device_record,) = batch.devices
    assert device_record is not None
    assert [r.network_operator_id for r in batch.registrations([(device_record.mpxns[0], T0 + DAY)])] == ["NGGD"]
    assert round_trips == ["pipeline", "pipeline"]


def test_a_directory_change_is_seen_by_the_next_batch(world, round_trips):
    reference, parties = world
    assert reference([], set()).directory.owner(ENTITY, T0).party_id == "LOND"
    parties.apply([PartyCredential("90-B3-D5-1F-30-02-00-01", Party("SEEB", "ED"))])
    round_trips.clear()
    directory = reference([], set()).directory
    assert directory.owner("90-B3-D5-1F-30-02-00-01", T0).party_id == "SEEB"
    assert round_trips == ["pipeline", "HGETALL"]  # the version moved: the directory is reloaded


def test_no_decision_is_read_from_redis_without_a_whole_epoch(world):
    lookup, _ = world
    client = lookup.registrations.client
    key = lookup.registrations.keys.reference_epoch
    assert lookup([(ESME, T0)], {MPAN}).devices[0] is not None
    client.set(key, b"building")
    with pytest.raises(ReferenceLost, match="the feed is building it"):
        lookup([(ESME, T0)], {MPAN})
    client.delete(key)
    with pytest.raises(ReferenceLost, match="no reference epoch"):
        lookup([(ESME, T0)], {MPAN})
    client.set(key, b"whole:another-build")  # rebuilt since the last batch: read again, directory reloaded
    with pytest.raises(ReferenceLost, match="rebuilt"):
        lookup([(ESME, T0)], {MPAN})
    assert lookup([(ESME, T0)], {MPAN}).devices[0] is not None
