"""``srguard evidence``: the numbers the SECMP0063 working group asked for, per Network Operator, side by side.

For each NO (DNO, IDNO, gas transporter): its meter points and its ESMEs/GPFs in service; the SRs the
check would block in the window (the audit topic) and the share of its devices they touch, comparable
with an NO's own "0.005% of our meters"; its devices whose NO cells were never updated, hold another
party's certificates, or have no known state; and whether it holds any SMKI credentials at all.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from processor.domain.identifiers import DNO_MARKET_IDS, Fuel
from processor.domain.model import PartyDirectory, Registration
from processor.history.stats import INCIDENT_CLASS, IncidenceStats, IncidentClass, aggregate
from processor.ledger.model import CELLS
from processor.ledger.population import Population, State, population_at
from processor.ledger.store import LedgerStore
from processor.registration.lookup import Stores


def operator_kind(registration: Registration) -> str:
    """GT for gas; DNO for the 14 area distributors; IDNO for any other electricity NO (an IDNO's
    meter points may sit in a DNO's area, so the MPAN's prefix does not say)."""
    if registration.fuel is Fuel.GAS:
        return "GT"
    return "DNO" if registration.network_operator_id in DNO_MARKET_IDS else "IDNO"


@dataclass
class OperatorRow:
    operator: str
    kind: str
    has_credentials: bool
    meter_points: int = 0
    devices: int = 0  # ESMEs and GPFs in service at its meter points
    would_block_srs: int = 0
    would_block_wrong_certificate: int = 0
    would_block_devices: int = 0
    never_updated: int = 0
    wrong: int = 0
    partly_updated: int = 0
    unknown_state: int = 0

    def share(self, count: int) -> float | None:
        """Per cent of the NO's devices in service."""
        return 100.0 * count / self.devices if self.devices else None


@dataclass
class Evidence:
    at: int
    window: tuple[int | None, int | None]
    min_days: int
    rows: list[OperatorRow]
    stats: IncidenceStats  # the would-be-blocked SRs, for the time series
    breakdowns: dict[str, Counter[str]] = field(default_factory=dict)
    never_by_month: Counter[str] = field(default_factory=Counter)  # by month of commissioning


def collect_evidence(
    would_block: list[dict[str, Any]],
    reference: Stores,
    ledger: LedgerStore,
    window: tuple[int | None, int | None],
    at: int,
    min_days: int,
) -> Evidence:
    """The evidence pack's figures: the would-be rejections of the window (read by the caller from the audit
    topic), the devices judged at ``at``. The party directory is read once."""
    directory = reference.parties.load()
    stats = aggregate(would_block, directory.party_of, None, window)
    population = population_at(reference, ledger, at, min_days, directory)
    return gather(population, reference.registrations.in_force_all(at), directory, would_block, stats, window)


def gather(
    population: Population,
    registrations: Iterable[Registration],
    directory: PartyDirectory,
    would_block: list[dict[str, Any]],
    stats: IncidenceStats,
    window: tuple[int | None, int | None],
) -> Evidence:
    rows: dict[str, OperatorRow] = {}

    def row(operator: str, kind: str = "") -> OperatorRow:
        if operator not in rows:
            rows[operator] = OperatorRow(operator, kind, directory.has_credentials(operator, population.at))
        return rows[operator]

    for registration in registrations:
        row(registration.network_operator_id or "(none)", operator_kind(registration)).meter_points += 1
    never_by_month: Counter[str] = Counter()
    for device in population.devices:
        r = row(device.registered)
        r.devices += 1
        if device.state is State.NEVER_UPDATED:
            r.never_updated += 1
            if device.cells.commissioned is not None:
                never_by_month[_month(device.cells.commissioned.at)] += 1
        r.wrong += device.state is State.WRONG
        r.partly_updated += device.state is State.PARTLY_UPDATED
        r.unknown_state += device.state is State.UNKNOWN
    touched: dict[str, set[str]] = {}
    for record in would_block:
        r = row(record.get("registered_network_operator_id") or "(none)")
        r.would_block_srs += 1
        kind = INCIDENT_CLASS.get(record["reason"], IncidentClass.REQUEST_FAULT)
        r.would_block_wrong_certificate += kind is IncidentClass.WRONG_CERTIFICATE
        touched.setdefault(r.operator, set()).add(record["target_device_id"])
    for operator, devices in touched.items():
        rows[operator].would_block_devices = len(devices)
    never = [d for d in population.devices if d.state is State.NEVER_UPDATED]
    wrong = [d for d in population.devices if d.state is State.WRONG]
    breakdowns = {
        f"never updated {population.min_days}+ days after commissioning, by responsible (current) Supplier": Counter(
            d.supplier for d in never
        ),
        "never updated, by cell content (digital signing / key agreement)": Counter(
            " / ".join(d.contents[c].value for c in CELLS) for d in never
        ),
        "holding another party's certificates, by cause": Counter(c for d in wrong for c in set(d.causes)),
        "devices left out (not ESME/GPF, or not in service)": population.left_out,
    }
    ordered = sorted(rows.values(), key=lambda r: (r.kind, r.operator))
    return Evidence(population.at, window, population.min_days, ordered, stats, breakdowns, never_by_month)


def _month(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m")


def without_credentials(evidence: Evidence) -> list[OperatorRow]:
    """NOs registered for meter points that hold no SMKI credentials: no Supplier could place theirs."""
    return [r for r in evidence.rows if not r.has_credentials and r.meter_points and not r.operator.startswith("(")]


CSV_COLUMNS = [
    "network_operator", "kind", "has_smki_credentials", "meter_points", "devices_in_service",
    "would_block_srs", "would_block_wrong_certificate_srs", "would_block_devices", "would_block_devices_pct",
    "never_updated_devices", "never_updated_pct", "wrong_certificates_devices", "wrong_certificates_pct",
    "partly_updated_devices", "unknown_state_devices",
]  # fmt: skip


def csv_rows(evidence: Evidence) -> list[list[object]]:
    def pct(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    return [
        [
            r.operator,
            r.kind,
            r.has_credentials,
            r.meter_points,
            r.devices,
            r.would_block_srs,
            r.would_block_wrong_certificate,
            r.would_block_devices,
            pct(r.share(r.would_block_devices)),
            r.never_updated,
            pct(r.share(r.never_updated)),
            r.wrong,
            pct(r.share(r.wrong)),
            r.partly_updated,
            r.unknown_state,
        ]
        for r in evidence.rows
    ]


def write_csv(evidence: Evidence, folder: Path) -> list[Path]:
    """evidence.csv (one row per NO: every count and its denominator) and evidence-breakdowns.csv."""
    per_operator, breakdowns = folder / "evidence.csv", folder / "evidence-breakdowns.csv"
    with per_operator.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_rows(evidence))
    with breakdowns.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["breakdown", "key", "devices"])
        for title, counts in evidence.breakdowns.items():
            writer.writerows([title, key, n] for key, n in counts.most_common())
        writer.writerows(
            ["never updated, by month of commissioning", k, n] for k, n in sorted(evidence.never_by_month.items())
        )
    return [per_operator, breakdowns]


def to_json(evidence: Evidence, context: dict[str, str]) -> dict[str, object]:
    return {
        "context": context,
        "operators": [asdict(r) | {"would_block_devices_pct": r.share(r.would_block_devices)} for r in evidence.rows],
        "without_credentials": [r.operator for r in without_credentials(evidence)],
        "breakdowns": {title: dict(counts) for title, counts in evidence.breakdowns.items()},
        "never_updated_by_commissioning_month": dict(sorted(evidence.never_by_month.items())),
        "would_block_by_class": {kind.value: n for kind, n in evidence.stats.by_class.items()},
    }
