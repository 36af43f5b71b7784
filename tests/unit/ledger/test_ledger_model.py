"""The NO-cell ledger without Redis or Kafka: events, the state they imply, and the report over them."""

from __future__ import annotations

import re

from rich.console import Console

from processor.domain.identifiers import Fuel
from processor.domain.model import Registration
from processor.ledger.model import (
    CellState,
    Kind,
    LedgerEvent,
    current_cells,
    decode_events,
    encode_events,
    merge_events,
)
from processor.ledger.report import LedgerReport, ledger_report, print_ledger_report, write_csv_per_operator

DAY = 86_400_000


def commissioned(at: int, rid: str = "c1", by: str = "BGAS", mpxn: str | None = "1100000000011") -> LedgerEvent:
    return LedgerEvent(at, rid, Kind.COMMISSIONED, by, "", False, mpxn)


def placed(at: int, holder: str, rid: str, is_operator: bool = True) -> LedgerEvent:
    return LedgerEvent(at, rid, Kind.PLACED, "BGAS", holder, is_operator, "1100000000011")


def test_events_survive_their_encoding():
    events = [commissioned(1), placed(5, "EELC", "p1"), LedgerEvent(9, "p2", Kind.PLACED, "X", "Y", False, None, True)]
    assert decode_events(encode_events(events)) == events


def test_merging_is_idempotent_and_ordered_by_time():
    first = merge_events([], [placed(5, "EELC", "p1"), commissioned(1)])
    assert [e.request_id for e in first] == ["c1", "p1"]
    assert merge_events(first, [placed(5, "EELC", "p1")]) == first, "an SR applied twice changes nothing"
    later = merge_events(first, [placed(3, "SPOW", "p0")])
    assert [e.request_id for e in later] == ["c1", "p0", "p1"]


def test_current_cells_follow_the_last_event():
    assert current_cells("d", []) is None
    fresh = current_cells("d", [commissioned(1)])
    assert fresh is not None and fresh.state is CellState.PRELOADED and fresh.commissioned_by == "BGAS"
    operator = current_cells("d", [commissioned(1), placed(5, "EELC", "p1")])
    assert operator is not None and (operator.state, operator.holder, operator.since) == (
        CellState.NETWORK_OPERATOR,
        "EELC",
        5,
    )
    other = current_cells("d", [commissioned(1), placed(5, "BGAS", "p1", is_operator=False)])
    assert other is not None and other.state is CellState.OTHER


class Registrations:
    """lookup_many over a fixed history: the one call the report makes of the registration store."""

    def __init__(self, history: dict[str, list[Registration]]) -> None:
        self.history = history

    def lookup_many(self, queries):
        found = []
        for mpxn, at in queries:
            records = [r for r in self.history.get(mpxn or "", []) if r.effective_from <= at]
            found.append(records[-1] if records else None)
        return found


def registration(mpxn: str, operator: str, since: int) -> Registration:
    return Registration(mpxn, Fuel.ELECTRICITY, operator, "BGAS", since, 1)


def test_the_report_tells_wrong_placements_from_registration_changes():
    now = 400 * DAY
    history = {
        "A": [registration("A", "EELC", 0)],
        "B": [registration("B", "EELC", 0), registration("B", "SPOW", 200 * DAY)],
        "C": [registration("C", "EELC", 0)],
        "D": [registration("D", "EELC", 0)],
    }
    devices = [
        ("right", [LedgerEvent(DAY, "r", Kind.PLACED, "BGAS", "EELC", True, "A")]),
        ("changed", [LedgerEvent(DAY, "c", Kind.PLACED, "BGAS", "EELC", True, "B")]),  # NO changed later
        ("wrong", [LedgerEvent(DAY, "w", Kind.PLACED, "BGAS", "SPOW", True, "C")]),
        ("never", [LedgerEvent(DAY, "n", Kind.COMMISSIONED, "EDFE", "", False, "D")]),
    ]
    report = ledger_report(devices, Registrations(history), now, min_days=30)  # type: ignore[arg-type]
    assert report.devices == 4
    assert report.wrong_by_cause == {"registration changed": 1, "placed wrong": 1}
    assert report.wrong_by_network_operator == {"SPOW": 1, "EELC": 1}
    assert report.never_updated_by_supplier == {"EDFE": 1}
    assert [w.device_id for w in report.wrong] == ["wrong", "changed"]  # by registered NO, then device
    early = ledger_report(devices, Registrations(history), 10 * DAY, min_days=30)  # type: ignore[arg-type]
    assert not early.never_updated_by_supplier, "commissioned 9 days before: not yet 'never updated'"


def test_month_tables_print_in_time_order_and_the_others_largest_first(tmp_path):
    report = LedgerReport(at=0, min_days=30, devices=3)
    report.by_state.update({"network_operator": 3})
    report.wrong_by_network_operator.update({"SPOW": 1, "EELC": 5})
    report.wrong_since_by_month.update({"2024-03": 9, "2023-11": 1})
    console = Console(record=True, width=200)
    print_ledger_report(report, console)
    text = console.export_text()
    assert text.index("2023-11") < text.index("2024-03"), "months must read in time order, not by count"
    assert text.index("EELC") < text.index("SPOW"), "other breakdowns go largest first"
    assert re.search(r"3 devices in the ledger", text)
    assert write_csv_per_operator(report, tmp_path) == []
