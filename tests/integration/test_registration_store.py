"""RegistrationStore and PartyStore on the real Redis."""

from __future__ import annotations

import uuid

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.domain.identifiers import Fuel
from processor.domain.model import Party, Registration
from processor.errors import OverlappingHolders
from processor.registration.parties import DirectoryCache, EntityWithdrawal, PartyCredential, PartyStore
from processor.registration.store import BUCKETS_PER_MERGE, RegistrationStore, Withdrawal, tune_listpacks

pytestmark = pytest.mark.integration
DAY = 86_400_000
T0 = 1_600_000_000_000
MPAN = "1200000000020"


@pytest.fixture
def client(redis_url):
    with redis.Redis.from_url(redis_url) as c:
        yield c


@pytest.fixture
def store(client, unique):
    return RegistrationStore(client, f"t{unique}", buckets=64)


def reg(no, at, seq, mpxn=MPAN, supplier="BGAS"):
    return Registration(mpxn, Fuel.ELECTRICITY, no, supplier, at, seq)


def test_as_of_lookup_across_a_change_of_network_operator(store):
    store.apply([reg("LOND", T0, 1), reg("SEEB", T0 + 30 * DAY, 2)])
    assert store.lookup(MPAN, T0 - 1) is None
    assert store.lookup(MPAN, T0).network_operator_id == "LOND"
    assert store.lookup(MPAN, T0 + 30 * DAY - 1).network_operator_id == "LOND"
    assert store.lookup(MPAN, T0 + 30 * DAY).network_operator_id == "SEEB"
    assert [r.network_operator_id for r in store.history(MPAN)] == ["LOND", "SEEB"]


def test_future_dated_record_does_not_apply_before_its_time(store):
    future = T0 + 365 * DAY
    store.apply([reg("LOND", T0, 1), reg("SEEB", future, 2)])
    assert store.lookup(MPAN, future - 1).network_operator_id == "LOND"
    assert store.lookup(MPAN, future).network_operator_id == "SEEB"


def test_null_operator_means_no_network_operator_from_then_on(store):
    store.apply([reg("LOND", T0, 1), reg(None, T0 + DAY, 2)])
    assert store.lookup(MPAN, T0 + DAY).network_operator_id is None


def test_apply_counts_and_idempotence(store):
    first = store.apply([reg("LOND", T0, 5), reg("SEEB", T0 + DAY, 6)])
    assert (first.counts["inserted"], first.counts["replaced"]) == (2, 0)
    again = store.apply([reg("LOND", T0, 5), reg("SEEB", T0 + DAY, 6)])
    assert again.counts["unchanged"] == 2 and not again.counts["inserted"]
    older = store.apply([reg("MANW", T0, 4)])  # older sequence for the same effective_from: ignored
    assert older.counts["unchanged"] == 1 and store.lookup(MPAN, T0).network_operator_id == "LOND"
    newer = store.apply([reg("MANW", T0, 9)])
    assert newer.counts["replaced"] == 1 and store.lookup(MPAN, T0).network_operator_id == "MANW"


def test_one_apply_across_more_buckets_than_one_merge_call_takes(client, unique):
    """Buckets go to merge.lua in groups: every group's changes land, and the counts add up."""
    store = RegistrationStore(client, f"g{unique}", buckets=4096)
    mpxns = [f"{1000000000000 + i * 7919}" for i in range(3000)]
    assert len({store.key_of(m) for m in mpxns}) > 2 * BUCKETS_PER_MERGE
    first = store.apply([reg("LOND", T0, 1, mpxn=m) for m in mpxns], offsets={"t:0": 5})
    assert first.counts["inserted"] == 3000
    again = [reg("SEEB", T0, 2, mpxn=m) for m in mpxns[:1000]]  # replaced
    again += [reg("LOND", T0, 1, mpxn=m) for m in mpxns[1000:2000]]  # unchanged
    again += [reg("MANW", T0 + DAY, 1, mpxn=m) for m in mpxns[2000:]]  # inserted after the first
    second = store.apply([*again, Withdrawal(mpxns[0])])
    assert (second.counts["replaced"], second.counts["unchanged"], second.counts["inserted"]) == (1000, 1000, 1000)
    assert second.counts["withdrawn"] == 1
    assert store.history(mpxns[0]) == []
    assert store.lookup(mpxns[1], T0).network_operator_id == "SEEB"
    assert store.lookup(mpxns[1500], T0 + DAY).network_operator_id == "LOND"
    assert [r.network_operator_id for r in store.history(mpxns[2999])] == ["LOND", "MANW"]
    assert store.stored_offsets() == {"t:0": 5}


def test_withdrawal_removes_the_history(store):
    store.apply([reg("LOND", T0, 1)])
    stats = store.apply([Withdrawal(MPAN)])
    assert stats.counts["withdrawn"] == 1 and store.history(MPAN) == []


def test_lookup_many_is_one_round_trip(store, monkeypatch):
    mpxns = [f"12000000{i:05d}" for i in range(300)]
    store.apply([reg("LOND", T0, 1, mpxn=m) for m in mpxns])
    calls = []
    original = redis.client.Pipeline.execute
    monkeypatch.setattr(
        redis.client.Pipeline, "execute", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    found = store.lookup_many([(m, T0 + DAY) for m in mpxns] + [(None, T0), ("9999999999", T0), (mpxns[0], T0 - 1)])
    assert len(calls) == 1
    assert [r.network_operator_id for r in found[:300]] == ["LOND"] * 300
    assert found[300:] == [None, None, None]


def test_offsets_are_written_with_the_records(store):
    store.apply([reg("LOND", T0, 1)], offsets={"regs:0": 17, "regs:1": 3})
    assert store.stored_offsets() == {"regs:0": 17, "regs:1": 3}


def test_bucket_count_is_fixed_at_first_use(client, unique):
    first = RegistrationStore(client, f"b{unique}", buckets=128)
    second = RegistrationStore(client, f"b{unique}", buckets=4096)
    assert (first.buckets, second.buckets) == (128, 128)
    with pytest.raises(ValueError, match="power of two"):
        RegistrationStore(client, f"c{unique}", buckets=100)


def test_memory_per_mpxn_stays_under_64_bytes(client, unique):
    """The layout goal at a test's scale: 50k MPxNs in 512 buckets (~100 per bucket)."""
    tune_listpacks(client)
    store = RegistrationStore(client, f"m{unique}", buckets=512)
    mpxns = [f"{1000000000000 + i * 7919}" for i in range(50_000)]
    before = client.info("memory")["used_memory"]
    for i in range(0, len(mpxns), 10_000):
        store.apply([reg("LOND", T0, 1, mpxn=m) for m in mpxns[i : i + 10_000]])
    per_mpxn = (client.info("memory")["used_memory"] - before) / len(mpxns)
    assert per_mpxn <= 64, f"{per_mpxn:.1f} bytes per MPxN"
    assert client.object("encoding", store.key_of(mpxns[0])) == b"listpack"


changes = st.lists(
    st.tuples(st.sampled_from(["LOND", "SEEB", "MANW", None]), st.integers(0, 4), st.integers(1, 6)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes, st.randoms(use_true_random=False), st.integers(1, 4))
def test_duplicated_and_reordered_changes_give_the_same_state(client, items, rnd, chunks):
    """Whatever order and duplication, each effective_from keeps its highest sequence."""
    records = [reg(no, T0 + day * DAY, seq) for no, day, seq in items]
    shuffled = records * 2
    rnd.shuffle(shuffled)
    a = RegistrationStore(client, f"h{uuid.uuid4().hex[:8]}", buckets=16)
    b = RegistrationStore(client, f"h{uuid.uuid4().hex[:8]}", buckets=16)
    a.apply(records)
    size = max(1, len(shuffled) // chunks)
    for i in range(0, len(shuffled), size):
        b.apply(shuffled[i : i + size])
    expected = {}
    for r in records:
        best = expected.get(r.effective_from)
        if best is None or r.sequence > best.sequence:
            expected[r.effective_from] = r
    # Equal (effective_from, sequence) with different content: the first applied stays; compare keys only.
    assert [(r.effective_from, r.sequence) for r in b.history(MPAN)] == sorted(
        (r.effective_from, r.sequence) for r in expected.values()
    )
    assert [(r.effective_from, r.sequence) for r in a.history(MPAN)] == [
        (r.effective_from, r.sequence) for r in b.history(MPAN)
    ]


def test_party_store_and_directory_cache(client, unique):
    parties = PartyStore(client, f"p{unique}")
    cache = DirectoryCache(parties)
    assert len(cache.refresh()) == 0
    changed = parties.apply(
        [
            PartyCredential("90b3d51f30020000", Party("LOND", "ED")),
            PartyCredential("90-B3-D5-1F-30-02-00-01", Party("SEEB", "ED", valid_from=T0, valid_to=T0 + DAY)),
        ]
    )
    assert changed == 2
    directory = cache.refresh()
    assert directory.owner("90-B3-D5-1F-30-02-00-00", T0).party_id == "LOND"
    assert directory.owner("90-B3-D5-1F-30-02-00-01", T0 - 1) is None
    assert directory.owner("90-B3-D5-1F-30-02-00-01", T0).party_id == "SEEB"
    assert directory.entities_of("LOND") == ["90-B3-D5-1F-30-02-00-00"]
    assert parties.apply([PartyCredential("90b3d51f30020000", Party("LOND", "ED"))]) == 0  # no change, no reload
    version = int(client.get(parties.version_key) or 0)
    parties.apply([EntityWithdrawal("90B3D51F30020000")])
    assert int(client.get(parties.version_key) or 0) == version + 1
    assert cache.refresh().owner("90-B3-D5-1F-30-02-00-00", T0) is None


def test_one_party_under_two_roles_is_kept_whole_and_two_parties_still_collide(client, unique):
    parties = PartyStore(client, f"roles{unique}")
    supplier, operator = "90-B3-D5-1F-30-01-00-00", "90-B3-D5-1F-30-02-00-07"
    parties.apply(
        [
            PartyCredential(supplier, Party("ZAZSUP", "IS")),
            PartyCredential(supplier, Party("ZAZSUP", "GS")),
            PartyCredential(operator, Party("IDNOX", "ED", valid_from=T0)),
            PartyCredential(operator, Party("IDNOX", "GT", valid_from=T0 + DAY)),
        ]
    )
    directory = DirectoryCache(parties).refresh()
    assert set(directory.roles(supplier, T0)) == {"IS", "GS"} and directory.owner(supplier, T0).party_id == "ZAZSUP"
    assert directory.roles(operator, T0 + DAY) == ("ED", "GT") and directory.roles(operator, T0) == ("ED",)
    with pytest.raises(OverlappingHolders):  # another party holding it at the same time: still refused
        parties.apply([PartyCredential(supplier, Party("OTHER", "IS"))])
