from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processor.domain.identifiers import Fuel
from processor.domain.model import Registration
from processor.registration.changes import registration_change
from processor.registration.packing import merge_entry, pack, unpack
from processor.registration.publish import encode_registration
from processor.registration.store import in_force
from processor.times import parse_time

ids = st.one_of(st.none(), st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=0, max_size=12))
records = st.builds(
    Registration,
    st.just("1200000000020"),
    st.sampled_from(list(Fuel)),
    ids,
    ids,
    st.integers(0, 2**48 - 1),
    st.integers(0, 2**48 - 1),
)


@given(st.lists(records, max_size=5))
def test_pack_unpack_round_trip(history):
    history = sorted(history, key=lambda r: r.effective_from)
    assert unpack("1200000000020", b"".join(pack(r) for r in history)) == history


def test_a_record_is_about_twenty_bytes():
    record = Registration("1200000000020", Fuel.ELECTRICITY, "LOND", "BGAS", 1_600_000_000_000, 7)
    assert len(pack(record)) == 23


def test_out_of_range_values_are_refused():
    with pytest.raises(ValueError, match="out of range"):
        pack(Registration("1", Fuel.GAS, None, None, -1, 0))


def test_in_force_picks_latest_not_after():
    a = Registration("m", Fuel.GAS, "CADT", None, 100, 1)
    b = Registration("m", Fuel.GAS, "SGNL", None, 200, 2)
    assert [in_force([a, b], t) for t in (99, 100, 199, 200, 10**12)] == [None, a, a, b, b]


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2020-01-01", 1577836800000),
        ("2020-01-01T00:00:01Z", 1577836801000),
        ("2020-01-01T01:00:00+01:00", 1577836800000),
        ("1577836800000", 1577836800000),
    ],
)
def test_parse_time(text, ms):
    assert parse_time(text) == ms


def test_parse_time_rejects_garbage():
    with pytest.raises(ValueError, match="not a time"):
        parse_time("next tuesday")


@pytest.mark.parametrize(
    ("mpxn", "effective_from"),
    [("१२००००००००००२०", 0), ("9" * 256, 0), ("", 0), ("1200000000020", -1)],
)
def test_what_cannot_be_stored_is_rejected_when_the_feed_decodes_it(mpxn, effective_from):
    record = Registration(mpxn, Fuel.ELECTRICITY, "LOND", None, effective_from, 1)
    with pytest.raises(ValueError):
        merge_entry(record)
    with pytest.raises(ValueError):  # the feed keeps such a record in its rejected list and goes on
        registration_change(b"k", encode_registration(record))


def test_a_merge_entry_is_the_mpxn_then_the_packed_record():
    record = Registration("1200000000020", Fuel.ELECTRICITY, "LOND", "BGAS", 5, 6)
    assert merge_entry(record) == b"\x0d1200000000020" + pack(record)


def test_a_holding_that_overlaps_another_partys_is_refused_and_a_handover_is_not():
    from processor.domain.model import Party
    from processor.errors import OverlappingHolders
    from processor.registration.parties import _merge

    entity = "90-B3-D5-1F-30-02-00-00"
    old = [Party("LOND", "ED", None, 2_000)]
    assert [p.party_id for p in _merge(entity, old, Party("NEWCO", "ED", 2_000, None))] == ["LOND", "NEWCO"]
    with pytest.raises(OverlappingHolders, match="NEWCO from 1999 to None overlaps LOND"):
        _merge(entity, old, Party("NEWCO", "ED", 1_999, None))
    with pytest.raises(OverlappingHolders):
        _merge(entity, [Party("LOND", "ED")], Party("SEEB", "ED", 5, 6))  # open-ended on both sides
    assert len(_merge(entity, [Party("LOND", "ED", 0, 10)], Party("LOND", "ED", 5, 20))) == 2  # same party
