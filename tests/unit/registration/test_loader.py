"""The CSV reading of bulk loads, without Redis: rows, columns, bad lines."""

from __future__ import annotations

import gzip
from collections import Counter
from io import StringIO

import pytest
from rich.console import Console

from processor.domain.identifiers import Fuel
from processor.domain.model import Registration
from processor.errors import LoadError
from processor.registration.csvsource import LoadSummary
from processor.registration.loader import load_parties, load_registrations
from processor.registration.present import print_load_summary
from processor.registration.store import ApplyStats


class Collecting:
    """Stands in for a store: keeps what the loader hands over, in order."""

    def __init__(self) -> None:
        self.applied: list[Registration] = []
        self.calls = 0

    def apply(self, records):
        self.calls += 1
        self.applied.extend(records)
        stats = ApplyStats()
        stats.counts["inserted"] = len(records)
        return stats


class Parties:
    """Stands in for the party store: keeps the credentials it was handed."""

    def apply(self, credentials):
        self.credentials = credentials
        return len(credentials)


def test_columns_in_any_order_optional_ones_absent_short_rows_and_blank_lines(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        " effective_from ,mpxn,network_operator_id\n"
        "1546300800000, 1200000000020 ,LOND\n"
        "\n"
        "1546300800000,3938424403\n"  # short row: no NO from then on
        "2019-01-01,1200000000020,,extra,fields\n"
    )
    store = Collecting()
    summary = load_registrations(path, store, lambda *_: None)
    assert summary.lines == 3 and summary.rejected_total == 0
    assert summary.counts["inserted"] == 3
    first, gas, withdrawn_no = store.applied
    assert (first.mpxn, first.network_operator_id, first.supplier_id) == ("1200000000020", "LOND", None)
    assert gas.fuel is Fuel.GAS and gas.network_operator_id is None
    assert withdrawn_no.network_operator_id is None and withdrawn_no.effective_from == 1546300800000
    assert first.sequence == gas.sequence  # the load time stands in for an absent sequence


def test_bad_lines_are_reported_with_their_numbers_and_the_rest_loaded(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "mpxn,network_operator_id,effective_from,fuel,sequence\n"
        "1200000000020,LOND,2019-01-01,GAS,1\n"  # line 2: the fuel contradicts the number's shape
        "1200000000020,LOND,,,1\n"  # line 3: no effective_from
        "1200000000020,LOND,2019-01-01,electricity,x\n"  # line 4: sequence not a number
        "1200000000020,LOND,2019-01-01,electricity,7\n"
    )
    store = Collecting()
    summary = load_registrations(path, store)
    assert [line for line, _ in summary.rejected] == [2, 3, 4]
    assert "does not match" in summary.rejected[0][1] and "effective_from is empty" in summary.rejected[1][1]
    assert [r.sequence for r in store.applied] == [7]


def test_chunks_reach_the_store_in_file_order(tmp_path, monkeypatch):
    monkeypatch.setattr("processor.registration.loader.CHUNK", 10)
    path = tmp_path / "r.csv"
    path.write_text(
        "mpxn,network_operator_id,effective_from,sequence\n"
        + "".join(f"1200000000020,LOND,{1546300800000 + i},{i}\n" for i in range(35))
    )
    store = Collecting()
    summary = load_registrations(path, store)
    assert store.calls == 4 and summary.counts["inserted"] == 35
    assert [r.sequence for r in store.applied] == list(range(35))


def test_parties_with_optional_validity(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "role,entity_id,party_id,valid_to,valid_from\n"
        "ed,90-b3-d5-1f-30-02-00-00,LOND,2030-01-01,\n"
        "ED,90-B3-D5-1F-30-02-00-01,,,\n"  # empty party_id: rejected
        "XX,90-B3-D5-1F-30-02-00-02,LOND,,\n"  # not a DUIS user role: rejected
        "GT,90-B3-D5-1F-30-02-00-03,NGGD,2020-01-01,2021-01-01\n"  # ends before it starts: rejected
    )

    parties = Parties()
    summary = load_parties(path, parties)
    assert summary.rejected_total == 3 and [line for line, _ in summary.rejected] == [3, 4, 5]
    assert "not a DUIS user role" in summary.rejected[1][1] and "not before valid_to" in summary.rejected[2][1]
    (credential,) = parties.credentials
    assert credential.entity_id == "90-B3-D5-1F-30-02-00-00"
    assert credential.party.role == "ED" and credential.party.valid_from is None
    assert credential.party.valid_to == 1893456000000


def test_chunks_never_cut_a_quoted_field_and_line_numbers_run_on(tmp_path, monkeypatch):
    monkeypatch.setattr("processor.registration.loader.CHUNK", 2)
    path = tmp_path / "r.csv"
    path.write_text(
        "mpxn,network_operator_id,effective_from,supplier_id\n"
        "1200000000020,LOND,1546300800000,BGAS\n"  # line 2
        '1200000000020,LOND,1546300800001,"a supplier\n'  # lines 3-4: one row over two lines
        'named on two lines"\n'
        "1200000000020,LOND,1546300800002,BGAS\n"  # line 5
        "12345,LOND,1546300800003,BGAS\n"  # line 6: rejected
        "1200000000020,LOND,1546300800004,BGAS\n"  # line 7
    )
    store = Collecting()
    summary = load_registrations(path, store)
    assert summary.rejected == [(6, "not an MPAN core or MPRN: '12345'")]
    assert [r.effective_from % 10 for r in store.applied] == [0, 1, 2, 4]
    assert store.applied[1].supplier_id == "a supplier\nnamed on two lines"


def test_one_bad_line_of_any_kind_costs_only_itself(tmp_path, monkeypatch):
    monkeypatch.setattr("processor.registration.csvsource.MAX_LINE_BYTES", 4096)
    path = tmp_path / "r.csv"
    path.write_bytes(
        b"mpxn,network_operator_id,effective_from,supplier_id\n"
        b"1200000000020,LOND,1546300800000,BGAS\n"  # line 2
        b'1200000000020,LOND,1546300800001,"stray quote\n'  # line 3: never closed
        b"1200000000020,LOND,1546300800002,BGAS\n"  # line 4
        b"1200000000020,LOND,1546300800003," + b"x" * 10_000 + b"\n"  # line 5: over the line limit
        b"1200000000020,LOND,1546300800004,B\xffAS\n"  # line 6: not UTF-8
        b'1200000000020,LOND,1546300800005,"a"b\n'  # line 7: text after a closing quote
        b"1200000000020,LOND,1546300800006,BGAS\n"  # line 8
    )
    store = Collecting()
    summary = load_registrations(path, store)
    assert [r.effective_from % 10 for r in store.applied] == [0, 2, 6]
    assert sorted(line for line, _ in summary.rejected) == [3, 5, 6, 7]
    reasons = dict(summary.rejected)
    assert "not a CSV row" in reasons[3] and "10034 bytes is over the 4096-byte limit" in reasons[5]
    assert "not UTF-8" in reasons[6] and "not a CSV row" in reasons[7]
    assert summary.lines == 7 and summary.rejected_total == 4


def test_an_over_long_field_is_a_bad_line(tmp_path):
    path = tmp_path / "p.csv"
    long = "L" * 50_000  # each line under the line limit, the quoted field over csv's field limit
    path.write_text(
        "entity_id,party_id,role\n"
        f'90-B3-D5-1F-30-02-00-00,"{long}\n{long}\n{long}",ED\n'  # lines 2-4
        "90-B3-D5-1F-30-02-00-01,LOND,ED\n"  # line 5
    )

    parties = Parties()
    summary = load_parties(path, parties)
    assert [line for line, _ in summary.rejected] == [2, 3, 4]
    assert [c.party.party_id for c in parties.credentials] == ["LOND"]


def test_a_gzip_bomb_is_refused_clearly_without_exhausting_memory(tmp_path, monkeypatch):
    monkeypatch.setattr("processor.registration.csvsource.MIN_BOMB_BYTES", 1 << 20)
    path = tmp_path / "bomb.csv.gz"
    with gzip.open(path, "wb") as out:
        out.write(b"mpxn,network_operator_id,effective_from\n")
        for _ in range(64):
            out.write(b"1" * (1 << 20))  # one 64 MiB line, ~64 kB compressed
    with pytest.raises(LoadError, match="compression bomb"):
        load_registrations(path, Collecting())


def test_a_header_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"mpxn,network_\xffoperator_id,effective_from\n")
    with pytest.raises(LoadError, match=r"line 1 \(the header\) is not UTF-8"):
        load_registrations(path, Collecting())


def test_every_role_line_of_a_party_is_kept_and_a_true_duplicate_is_reported(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "entity_id,party_id,role\n"
        "90-B3-D5-1F-30-01-00-00,ZAZSUP,IS\n"
        "90-B3-D5-1F-30-01-00-00,ZAZSUP,GS\n"  # the DCC's test supplier: electricity and gas
        "90-B3-D5-1F-30-01-00-00,ZAZSUP,GS\n"  # the same line again
    )
    parties = Parties()
    summary = load_parties(path, parties)
    assert [c.party.role for c in parties.credentials] == ["IS", "GS"]
    assert summary.warnings == [(4, "duplicate of line 3")] and summary.counts["duplicates"] == 1


def test_a_load_summary_is_one_line_however_narrow_the_pipe():
    """A script greps the summary: a long path once broke it in two at an 80-column pipe."""
    summary = LoadSummary(lines=70_000, counts=Counter(inserted=69_999), seconds=1.0)
    summary.reject(40_002, "not an MPAN core or MPRN: '12345' " + "x" * 80)
    out, err = StringIO(), StringIO()
    print_load_summary(summary, "registrations from /tmp/" + "deep/" * 20 + "big.csv", Console(file=out, width=40),
                       Console(file=err, width=40))  # fmt: skip
    assert len(out.getvalue().splitlines()) == 1 and "69999 inserted; 1 rejected" in out.getvalue()
    assert len(err.getvalue().splitlines()) == 1 and "line 40002: rejected" in err.getvalue()
