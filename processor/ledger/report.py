"""What the ledger says at a point in time: never-updated NO cells, and cells holding another NO's
certificates, whether placed wrong or made wrong by a change of registered NO."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from processor.domain.model import Registration
from processor.ledger.model import CellState, DeviceCells, LedgerEvent, current_cells
from processor.registration.store import RegistrationStore
from processor.times import iso_utc

DAY = 86_400_000
CHUNK = 5000


@dataclass(frozen=True)
class WrongCells:
    device_id: str
    mpxn: str | None
    registered: str
    holder: str
    since: int
    cause: str  # "placed wrong" | "registration changed"


@dataclass
class LedgerReport:
    at: int
    min_days: int
    devices: int = 0
    by_state: Counter[str] = field(default_factory=Counter)
    never_updated_by_supplier: Counter[str] = field(default_factory=Counter)
    never_updated_by_network_operator: Counter[str] = field(default_factory=Counter)
    wrong_by_network_operator: Counter[str] = field(default_factory=Counter)
    wrong_by_cause: Counter[str] = field(default_factory=Counter)
    wrong: list[WrongCells] = field(default_factory=list)
    commissioned_still_preloaded_by_month: Counter[str] = field(default_factory=Counter)
    wrong_since_by_month: Counter[str] = field(default_factory=Counter)


def summary_tables(report: LedgerReport) -> dict[str, Counter[str]]:
    """The ledger's breakdowns, titled, for `srguard report --with-ledger` (terminal, JSON, HTML)."""
    never = f"Ledger: NO cells never updated {report.min_days}+ days after commissioning"
    return {
        "Ledger: devices by NO-cell state": report.by_state,
        f"{never}, by supplier": report.never_updated_by_supplier,
        f"{never}, by registered NO": report.never_updated_by_network_operator,
        "Ledger: NO cells holding another party's certificates, by registered NO": report.wrong_by_network_operator,
        "Ledger: NO cells holding another party's certificates, by cause": report.wrong_by_cause,
    }


def _month(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m")


def ledger_report(
    devices: Iterable[tuple[str, list[LedgerEvent]]], registrations: RegistrationStore, at: int, min_days: int = 30
) -> LedgerReport:
    report = LedgerReport(at, min_days)
    chunk: list[DeviceCells] = []
    for device_id, events in devices:
        cells = current_cells(device_id, [e for e in events if e.at <= at])
        if cells is not None:
            chunk.append(cells)
        if len(chunk) >= CHUNK:
            _judge(chunk, registrations, report)
            chunk = []
    _judge(chunk, registrations, report)
    report.wrong.sort(key=lambda w: (w.registered, w.device_id))
    return report


def _judge(chunk: list[DeviceCells], registrations: RegistrationStore, report: LedgerReport) -> None:
    if not chunk:
        return
    now = registrations.lookup_many([(c.mpxn, report.at) for c in chunk])
    then = registrations.lookup_many([(c.mpxn, c.since) for c in chunk])
    for cells, current, at_placement in zip(chunk, now, then, strict=True):
        report.devices += 1
        report.by_state[cells.state.value] += 1
        registered = _operator(current)
        if cells.state is CellState.PRELOADED:
            if cells.commissioned_at is not None and report.at - cells.commissioned_at >= report.min_days * DAY:
                report.never_updated_by_supplier[cells.commissioned_by or "unknown"] += 1
                report.never_updated_by_network_operator[registered] += 1
                report.commissioned_still_preloaded_by_month[_month(cells.commissioned_at)] += 1
            continue
        if current is None or cells.holder == registered:
            continue
        cause = "registration changed" if cells.holder == _operator(at_placement) else "placed wrong"
        report.wrong.append(WrongCells(cells.device_id, cells.mpxn, registered, cells.holder, cells.since, cause))
        report.wrong_by_network_operator[registered] += 1
        report.wrong_by_cause[cause] += 1
        report.wrong_since_by_month[_month(cells.since)] += 1


def _operator(registration: Registration | None) -> str:
    return (registration.network_operator_id or "(none)") if registration else "(unregistered)"


def write_csv_per_operator(report: LedgerReport, folder: Path) -> list[Path]:
    """One CSV per registered NO: the devices whose NO cells hold someone else's certificates."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for operator in sorted({w.registered for w in report.wrong}):
        path = folder / f"wrong-no-cells-{operator}.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(
                ["device_id", "mpxn", "registered_network_operator", "certificates_held_by", "held_since_utc", "cause"]
            )
            for w in report.wrong:
                if w.registered == operator:
                    writer.writerow([w.device_id, w.mpxn or "", w.registered, w.holder, iso_utc(w.since), w.cause])
        written.append(path)
    return written


def breakdowns(report: LedgerReport) -> list[tuple[str, Counter[str], bool]]:
    """The report's tables for a terminal: (title, counts, chronological); others go largest first."""
    return [
        (
            f"NO cells never updated {report.min_days}+ days after commissioning, by supplier",
            report.never_updated_by_supplier,
            False,
        ),
        ("... by registered network operator", report.never_updated_by_network_operator, False),
        (
            "NO cells holding another party's certificates, by registered network operator",
            report.wrong_by_network_operator,
            False,
        ),
        ("... by cause", report.wrong_by_cause, False),
        ("wrong cells by month they were placed", report.wrong_since_by_month, True),
        ("still pre-loaded, by month of commissioning", report.commissioned_still_preloaded_by_month, True),
    ]


def print_ledger_report(report: LedgerReport, console: Console) -> None:
    console.print(
        f"[bold]{report.devices:,} devices in the ledger at {iso_utc(report.at)}[/]: "
        + ", ".join(f"{n:,} {state}" for state, n in sorted(report.by_state.items()))
    )
    for title, counts, chronological in breakdowns(report):
        table = Table("key", "devices", title=title)
        for key, count in sorted(counts.items()) if chronological else counts.most_common():
            table.add_row(key, f"{count:,}")
        console.print(table)


def print_device(device_id: str, events: list[LedgerEvent], console: Console) -> None:
    """One device's NO-cell history, then what its cells hold now."""
    table = Table("when (UTC)", "event", "by", "NO cells hold", "MPxN", "request", title=device_id)
    for event in events:
        table.add_row(
            iso_utc(event.at),
            event.kind.value,
            event.actor,
            event.holder or "pre-loaded Supplier/ACB",
            event.mpxn or "—",
            event.request_id,
        )
    console.print(table)
    cells = current_cells(device_id, events)
    if cells is not None:
        holder = f" ({cells.holder})" if cells.holder else ""
        console.print(f"now: {cells.state.value}{holder} since {iso_utc(cells.since)}")
