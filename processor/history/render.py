"""Render IncidenceStats for people and programs: terminal tables, CSV and JSON (the HTML is in ``page``).

Every output is made from the same rows (``IncidenceStats.headline``, ``rows``, ``series``), so the
numbers are the same everywhere; the CSV carries each rate's denominator and interval.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from processor.domain.decision import Reason
from processor.domain.identifiers import operator_label
from processor.history.stats import (
    BREAKDOWNS,
    OWNER,
    PERIODS,
    REASON,
    REGISTERED_NO,
    IncidenceStats,
    IncidentClass,
    Row,
    Scope,
    series,
)

TOP = 15
CLASSES = list(IncidentClass)
# Each reject reason as a person reads it (the code's own name stays in the CSV and JSON).
REASON_TEXT = {
    Reason.MISSING_REMOTE_PARTY_ROLE: "no RemotePartyRole in the request",
    Reason.MALFORMED_CERTIFICATE: "a certificate that cannot be read",
    Reason.UNTRUSTED_ISSUER: "a certificate not signed by a trusted SMKI OCA",
    Reason.CERTIFICATE_NOT_VALID_AT_SR_TIME: "a certificate not valid at the SR's time",
    Reason.NOT_NETWORK_OPERATOR_CERTIFICATE: "a certificate that is not a Network Operator's",
    Reason.UNKNOWN_ENTITY: "a certificate entity no party holds",
    Reason.AMBIGUOUS_CERTIFICATE_OWNER: "a certificate entity two parties hold",
    Reason.FOREIGN_NETWORK_OPERATOR: "another Network Operator's certificates",
    Reason.REGISTERED_NETWORK_OPERATOR_HAS_NO_CREDENTIALS: "the registered NO holds no SMKI credentials",
    Reason.NO_REGISTRATION: "no NO registered for the MPxN",
    Reason.NO_MPXN: "no MPxN for the device",
    Reason.UNKNOWN_ORIGINATOR: "an originator the party directory does not hold",
    Reason.UNKNOWN_DEVICE: "a device the inventory does not hold",
    Reason.REQUEST_CONTRADICTS_INVENTORY: "the request contradicts the device inventory",
    Reason.REQUEST_CONTRADICTS_PARTY_DIRECTORY: "the request contradicts the party directory",
    Reason.INVENTORY_NAMES_NO_IMPORT_MPXN: "the inventory names no import MPAN",
    Reason.FUEL_MISMATCH: "the device's fuel differs from the MPxN's",
}


def key_label(breakdown: str, key: str) -> str:
    """A row's key as a person reads it: a reason in words, a Network Operator with its name."""
    if breakdown == REASON and key in REASON_TEXT:
        return REASON_TEXT[Reason(key)]
    if breakdown in (REGISTERED_NO, OWNER):
        return operator_label(key)
    return key


@dataclass(frozen=True)
class ReportContext:
    """What the numbers depend on, stated in every output."""

    window: str
    sources: dict[str, str]  # role -> topic or archive
    version: str
    settings: dict[str, str]  # the settings that change numbers
    period: str  # day | week | month
    generated: str
    notes: list[str] = field(default_factory=list)


def denominator_basis(breakdown: str, scope: Scope | None) -> str:
    if breakdown in PERIODS:
        return "in-scope SRs in this period"
    if scope is not None and scope.per_key(breakdown):
        return "in-scope SRs with this key"
    return "all in-scope SRs"


def rate_text(row: Row, kind: IncidentClass | None = None) -> str:
    rate = row.rate(kind)
    if rate.per_10k is None:
        return "-"
    low, high = rate.ci95_per_10k or (0.0, 0.0)
    return f"{rate.per_10k:.1f} [{low:.1f}-{high:.1f}]"


def headline_text(stats: IncidenceStats) -> str:
    """The classes side by side, never summed: a registration-data gap is not a wrong certificate."""
    rows = stats.headline()
    parts = [
        f"{row.total:,} {row.key}" + (f" ({row.rate().per_10k:.2f} per 10,000)" if stats.scope else "")
        for row in rows[:-1]
    ]
    scope = (
        f" among {stats.in_scope:,} in-scope SRs"
        if stats.scope
        else " (rates need --requests-topic or --requests-archive)"
    )
    return "; ".join(parts) + scope


def print_terminal(stats: IncidenceStats, context: ReportContext, console: Console) -> None:
    console.print(f"[bold]{headline_text(stats)}[/]")
    console.print(
        f"window {context.window}; sources: {', '.join(f'{k} {v}' for k, v in context.sources.items())}; "
        f"srguard {context.version}; " + ", ".join(f"{k}={v}" for k, v in context.settings.items())
    )
    for note in context.notes:
        console.print(f"note: {note}")
    for name in BREAKDOWNS:
        rows = stats.rows(name)
        if rows:
            console.print(
                _table(f"by {name} (rates per 10,000 {denominator_basis(name, stats.scope)}, 95% CI)", rows[:TOP], name)
            )
            if len(rows) > TOP:
                console.print(f"  ... and {len(rows) - TOP} more in the CSV")
    timeline = [row for row in series(stats, context.period) if row.total]
    if timeline:
        console.print(_table(f"by {context.period} (periods with incidents; the CSV has every period)", timeline))


def _table(title: str, rows: list[Row], breakdown: str = "") -> Table:
    rates = ("wrong cert. /10k", "data gaps /10k", "request faults /10k")
    table = Table("key", *(kind.label for kind in CLASSES), "in-scope SRs", *rates, title=title)
    for row in rows:
        table.add_row(
            key_label(breakdown, row.key),
            *(f"{row.counts[kind]:,}" for kind in CLASSES),
            f"{row.in_scope:,}" if row.in_scope is not None else "-",
            *(rate_text(row, kind) for kind in CLASSES),
        )
    return table


CSV_HEADER = [
    "breakdown",
    "key",
    *[kind.value for kind in CLASSES],
    "all_incidents",
    "in_scope_srs",
    "denominator",
    *[f"{kind.value}_{part}" for kind in CLASSES for part in ("per_10k", "ci95_low", "ci95_high")],
]


def _csv_row(breakdown: str, row: Row, scope: Scope | None) -> list[object]:
    rates: list[object] = []
    for kind in CLASSES:
        rate = row.rate(kind)
        low_high = rate.ci95_per_10k
        rates += [_num(rate.per_10k), _num(low_high[0] if low_high else None), _num(low_high[1] if low_high else None)]
    basis = denominator_basis(breakdown, scope) if row.in_scope is not None else None
    in_scope = row.in_scope  # None: no requests source (an empty CSV cell, a JSON null)
    return [breakdown, row.key, *(row.counts[kind] for kind in CLASSES), row.total, in_scope, basis, *rates]


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def all_rows(stats: IncidenceStats, period: str) -> list[tuple[str, Row]]:
    """(breakdown, row) for the headline, every breakdown and the time series: the CSV's and JSON's rows."""
    rows = [("headline", row) for row in stats.headline()]
    rows += [(name, row) for name in BREAKDOWNS for row in stats.rows(name)]
    return rows + [(period, row) for row in series(stats, period)]


def write_csv(stats: IncidenceStats, context: ReportContext, path: Path) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        for name, row in all_rows(stats, context.period):
            writer.writerow(_csv_row(name, row, stats.scope))


def to_json(stats: IncidenceStats, context: ReportContext) -> dict[str, object]:
    def row_json(name: str, row: Row) -> dict[str, object]:
        return dict(zip(CSV_HEADER[1:], _csv_row(name, row, stats.scope)[1:], strict=True))

    breakdowns: dict[str, list[dict[str, object]]] = {}
    for name, row in all_rows(stats, context.period):
        breakdowns.setdefault(name, []).append(row_json(name, row))
    return {
        "window": context.window,
        "sources": context.sources,
        "srguard_version": context.version,
        "settings": context.settings,
        "period": context.period,
        "generated": context.generated,
        "in_scope": stats.in_scope,
        "by_class": {kind.value: stats.by_class[kind] for kind in CLASSES},
        "total": stats.total,
        "breakdowns": breakdowns,
        "pairs": dict(stats.pairs.most_common()),
    }


def print_sections(sections: dict[str, Counter[str]], console: Console) -> None:
    for title, counts in sections.items():
        table = Table("key", "devices", title=title)
        for key, count in counts.most_common():
            table.add_row(key, f"{count:,}")
        console.print(table)
