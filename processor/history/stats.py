"""Aggregate SrRejection records into incidence statistics: pure, no I/O.

Incidents are kept apart by class everywhere: a **wrong certificate** (the Supplier placed certificates that
are not the registered NO's) is a different finding from a **registration-data gap** (the DSP's data could
not say who the NO is), and the check is only as good as that data, so the two are never summed silently.
Rates are per 10,000 in-scope SRs (those SECMP0063 checks), per breakdown key where the requests source
can say how many in-scope SRs had that key, with a 95% Wilson interval (honest for small counts).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from processor.domain.decision import Reason


class IncidentClass(StrEnum):
    WRONG_CERTIFICATE = "wrong_certificate"
    DATA_GAP = "registration_data_gap"
    REQUEST_FAULT = "request_fault"

    @property
    def label(self) -> str:
        return {"wrong_certificate": "wrong certificates", "registration_data_gap": "registration-data gaps"}.get(
            self.value, "request faults"
        )


# Every reason has a class; a test holds the table to the Reason enum.
INCIDENT_CLASS: dict[str, IncidentClass] = {
    **dict.fromkeys(
        (
            Reason.FOREIGN_NETWORK_OPERATOR,
            Reason.NOT_NETWORK_OPERATOR_CERTIFICATE,
            Reason.UNKNOWN_ENTITY,
            Reason.MALFORMED_CERTIFICATE,
            Reason.UNTRUSTED_ISSUER,
            Reason.CERTIFICATE_NOT_VALID_AT_SR_TIME,
        ),
        IncidentClass.WRONG_CERTIFICATE,
    ),
    **dict.fromkeys(
        (  # the DSP's registration, inventory or party data could not answer
            Reason.NO_REGISTRATION,
            Reason.NO_MPXN,
            Reason.UNKNOWN_DEVICE,
            Reason.REGISTERED_NETWORK_OPERATOR_HAS_NO_CREDENTIALS,
            Reason.UNKNOWN_ORIGINATOR,
            Reason.AMBIGUOUS_CERTIFICATE_OWNER,
            Reason.INVENTORY_NAMES_NO_IMPORT_MPXN,
        ),
        IncidentClass.DATA_GAP,
    ),
    **dict.fromkeys(
        (
            Reason.MISSING_REMOTE_PARTY_ROLE,
            Reason.REQUEST_CONTRADICTS_INVENTORY,
            Reason.REQUEST_CONTRADICTS_PARTY_DIRECTORY,
            Reason.FUEL_MISMATCH,
        ),
        IncidentClass.REQUEST_FAULT,
    ),
}
# Incidents whose placed certificates have a known owner: the supplier -> NO pairs.
WRONG_OWNER_REASONS = frozenset({"foreign_network_operator", "not_network_operator_certificate"})
# Breakdowns whose keys a requests source can count in-scope SRs for; the others' rates use the total.
SUPPLIER, REGISTERED_NO, OWNER = "originating supplier", "registered network operator", "certificate owner"
UNKNOWN_OWNER = "(unknown)"
VARIANT_DEVICE, REASON = "SR variant and device type", "reason"
BREAKDOWNS = (REASON, "response code", REGISTERED_NO, OWNER, SUPPLIER, VARIANT_DEVICE)
PER_KEY = (SUPPLIER, VARIANT_DEVICE)  # breakdowns whose keys always have their own in-scope count
NONE_REGISTERED = "(none registered)"


def day_of(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat()


def sr_time(record: dict[str, Any]) -> int:
    """The SR's own time: ``submitted_at`` (SrRejection version 2), else the time it was judged as of."""
    return int(record.get("submitted_at") or record["as_of"])


def variant_device(variant: str, device_type: str | None) -> str:
    return f"{variant} {device_type}"


@dataclass
class Scope:
    """The in-scope SRs of the window: the rates' denominators, in total and by key."""

    read: int = 0  # every SR read in the window, in scope or not
    total: int = 0
    by: dict[str, Counter[str]] = field(default_factory=lambda: {name: Counter() for name in PER_KEY})
    by_day: Counter[str] = field(default_factory=Counter)

    def add(
        self,
        supplier: str,
        variant: str,
        device_type: str | None,
        submitted_at: int,
        registered: str | None = None,
        owners: set[str] | None = None,
    ) -> None:
        """``registered``: the NO registered for the SR's MPxN at its time, when registrations were looked up;
        ``owners``: the parties owning the certificates it places (an SR placing two owners' counts for both)."""
        self.total += 1
        for owner in owners or ():
            self.by.setdefault(OWNER, Counter())[owner] += 1
        if registered is not None:
            self.by.setdefault(REGISTERED_NO, Counter())[registered] += 1
        self.by[SUPPLIER][supplier] += 1
        self.by[VARIANT_DEVICE][variant_device(variant, device_type)] += 1
        self.by_day[day_of(submitted_at)] += 1

    def per_key(self, breakdown: str) -> bool:
        return breakdown in self.by

    def of(self, breakdown: str, key: str) -> int:
        """In-scope SRs with ``key``; for a breakdown the requests cannot tell (reason, response code): all of them."""
        counts = self.by.get(breakdown)
        return self.total if counts is None else counts[key]


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of the proportion k/n; undefined (NaN) where k/n is no proportion: no
    denominator, or more incidents than it (request faults counted against in-scope SRs they are not among)."""
    if n <= 0 or not 0 <= k <= n:
        return (math.nan, math.nan)
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    incidents: int
    in_scope: int | None

    @property
    def per_10k(self) -> float | None:
        return self.incidents / self.in_scope * 10_000 if self.in_scope else None

    @property
    def ci95_per_10k(self) -> tuple[float, float] | None:
        if not self.in_scope:
            return None
        low, high = wilson(self.incidents, self.in_scope)
        return low * 10_000, high * 10_000


@dataclass(frozen=True)
class Row:
    """One key of a breakdown: incidents by class, the in-scope SRs with that key, and the rates."""

    key: str
    counts: dict[IncidentClass, int]
    in_scope: int | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def rate(self, kind: IncidentClass | None = None) -> Rate:
        return Rate(self.total if kind is None else self.counts[kind], self.in_scope)


@dataclass
class IncidenceStats:
    scope: Scope | None = None  # None: no requests source, so no rates
    by_class: Counter[IncidentClass] = field(default_factory=Counter)
    breakdowns: dict[str, Counter[tuple[str, IncidentClass]]] = field(
        default_factory=lambda: {name: Counter() for name in BREAKDOWNS}
    )
    by_day: Counter[tuple[str, IncidentClass]] = field(default_factory=Counter)
    pairs: Counter[str] = field(default_factory=Counter)  # "supplier -> registered NO (placed: owner)"
    first_day: str | None = None  # the window's first and last day (of the request, else of the data)
    last_day: str | None = None

    @property
    def total(self) -> int:
        return sum(self.by_class.values())

    @property
    def in_scope(self) -> int | None:
        return self.scope.total if self.scope else None

    def headline(self) -> list[Row]:
        """One row per class, then all incidents: the report's first lines."""
        counts = {kind: self.by_class[kind] for kind in IncidentClass}
        only = {kind: {k: counts[k] if k is kind else 0 for k in IncidentClass} for kind in IncidentClass}
        return [Row(kind.label, only[kind], self.in_scope) for kind in IncidentClass] + [
            Row("all incidents", counts, self.in_scope)
        ]

    def rows(self, breakdown: str) -> list[Row]:
        """The breakdown's keys, most incidents first."""
        per_key: dict[str, dict[IncidentClass, int]] = {}
        for (key, kind), count in self.breakdowns[breakdown].items():
            per_key.setdefault(key, dict.fromkeys(IncidentClass, 0))[kind] += count
        rows = [Row(k, c, self.scope.of(breakdown, k) if self.scope else None) for k, c in per_key.items()]
        return sorted(rows, key=lambda r: (-r.total, r.key))

    def days(self) -> dict[str, dict[IncidentClass, int]]:
        """Every day of the window (zero-filled), each with its incidents by class."""
        series: dict[str, dict[IncidentClass, int]] = {}
        if self.first_day and self.last_day:
            day, last = dt.date.fromisoformat(self.first_day), dt.date.fromisoformat(self.last_day)
            while day <= last:
                series[day.isoformat()] = dict.fromkeys(IncidentClass, 0)
                day += dt.timedelta(days=1)
        for (day_text, kind), count in self.by_day.items():
            series.setdefault(day_text, dict.fromkeys(IncidentClass, 0))[kind] += count
        return dict(sorted(series.items()))


def aggregate(
    rejections: Iterable[dict[str, Any]],
    party_of: Callable[[str, int], str | None],
    scope: Scope | None = None,
    window: tuple[int | None, int | None] = (None, None),
) -> IncidenceStats:
    """``party_of(entity_id, at)``: the originator's market id (None when the directory does not know it).
    ``window`` (ms, until exclusive) bounds the time series; without it, the data's first and last days."""
    stats = IncidenceStats(scope=scope)
    for r in rejections:
        kind = INCIDENT_CLASS.get(r["reason"], IncidentClass.REQUEST_FAULT)
        stats.by_class[kind] += 1
        registered = r.get("registered_network_operator_id") or NONE_REGISTERED
        owners = sorted({p for p in r.get("certificate_party_ids", []) if p}) or [UNKNOWN_OWNER]
        supplier = party_of(r["originator_id"], r["as_of"]) or r["originator_id"]
        keys = {
            REASON: [r["reason"]],
            "response code": [r["response_code"]],
            REGISTERED_NO: [registered],
            OWNER: owners,
            SUPPLIER: [supplier],
            VARIANT_DEVICE: [variant_device(r["service_reference_variant"], r["target_device_type"])],
        }
        for name, values in keys.items():
            for value in values:
                stats.breakdowns[name][(value, kind)] += 1
        stats.by_day[(day_of(sr_time(r)), kind)] += 1
        if r["reason"] in WRONG_OWNER_REASONS:
            stats.pairs[f"{supplier} -> {registered} (placed: {', '.join(owners)})"] += 1
    days = sorted({day for day, _ in stats.by_day} | set(scope.by_day if scope else ()))
    since, until = window
    stats.first_day = day_of(since) if since is not None else (days[0] if days else None)
    stats.last_day = day_of(until - 1) if until is not None else (days[-1] if days else None)
    return stats


PERIODS = ("day", "week", "month")


def period_start(day: dt.date, period: str) -> dt.date:
    if period == "week":
        return day - dt.timedelta(days=day.weekday())  # ISO weeks start on Monday
    if period == "month":
        return day.replace(day=1)
    return day


def auto_period(first_day: str | None, last_day: str | None) -> str:
    """Days for up to two months, weeks up to two years, months beyond: a readable number of bars."""
    if not first_day or not last_day:
        return "week"
    span = (dt.date.fromisoformat(last_day) - dt.date.fromisoformat(first_day)).days
    return "day" if span <= 62 else "week" if span <= 731 else "month"


def series(stats: IncidenceStats, period: str) -> list[Row]:
    """The time series: one row per period (key = its first day), empty periods included, with the
    in-scope SRs of that period as its denominator."""
    rows: dict[str, dict[IncidentClass, int]] = {}
    denominators: Counter[str] = Counter()
    for day_text, counts in stats.days().items():
        key = period_start(dt.date.fromisoformat(day_text), period).isoformat()
        bucket = rows.setdefault(key, dict.fromkeys(IncidentClass, 0))
        for kind, count in counts.items():
            bucket[kind] += count
    if stats.scope:
        for day_text, count in stats.scope.by_day.items():
            denominators[period_start(dt.date.fromisoformat(day_text), period).isoformat()] += count
    return [Row(key, counts, denominators[key] if stats.scope else None) for key, counts in sorted(rows.items())]
