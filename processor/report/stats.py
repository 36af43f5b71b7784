"""Aggregate SrRejection records into the statistics: pure, no I/O."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# Incidents whose placed certificates have a known owner: the supplier -> NO pairs.
WRONG_OWNER_REASONS = frozenset({"foreign_network_operator", "not_network_operator_certificate"})


@dataclass
class IncidenceStats:
    total: int = 0
    in_scope: int | None = None  # SRs that SECMP0063 checks, when a requests source was read
    by_reason: Counter[str] = field(default_factory=Counter)
    by_code: Counter[str] = field(default_factory=Counter)
    by_registered_no: Counter[str] = field(default_factory=Counter)
    by_certificate_owner: Counter[str] = field(default_factory=Counter)
    by_supplier: Counter[str] = field(default_factory=Counter)
    by_variant_device: Counter[str] = field(default_factory=Counter)
    by_day: Counter[str] = field(default_factory=Counter)
    by_week: Counter[str] = field(default_factory=Counter)
    pairs: Counter[str] = field(default_factory=Counter)  # "supplier -> registered NO (placed: owner)"

    @property
    def rate_per_10k(self) -> float | None:
        return None if not self.in_scope else self.total / self.in_scope * 10_000

    def tables(self) -> dict[str, Counter[str]]:
        """Every breakdown by name, in report order."""
        return {
            "reason": self.by_reason,
            "response code": self.by_code,
            "registered network operator": self.by_registered_no,
            "certificate owner": self.by_certificate_owner,
            "originating supplier": self.by_supplier,
            "SR variant and device type": self.by_variant_device,
            "week": self.by_week,
            "day": self.by_day,
            "supplier -> registered NO (placed)": self.pairs,
        }


def _day(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date()


def aggregate(
    rejections: Iterable[dict[str, Any]], party_of: Callable[[str, int], str | None], in_scope: int | None = None
) -> IncidenceStats:
    """``party_of(entity_id, at)``: the originator's market id (None when the directory does not know it)."""
    stats = IncidenceStats(in_scope=in_scope)
    for r in rejections:
        stats.total += 1
        stats.by_reason[r["reason"]] += 1
        stats.by_code[r["response_code"]] += 1
        registered = r.get("registered_network_operator_id") or "(none registered)"
        stats.by_registered_no[registered] += 1
        owners = sorted({p for p in r.get("certificate_party_ids", []) if p}) or ["(unknown)"]
        for owner in owners:
            stats.by_certificate_owner[owner] += 1
        supplier = party_of(r["originator_id"], r["as_of"]) or r["originator_id"]
        stats.by_supplier[supplier] += 1
        stats.by_variant_device[f"{r['service_reference_variant']} {r['target_device_type']}"] += 1
        day = _day(r["as_of"])
        stats.by_day[day.isoformat()] += 1
        year, week, _ = day.isocalendar()
        stats.by_week[f"{year}-W{week:02d}"] += 1
        if r["reason"] in WRONG_OWNER_REASONS:
            stats.pairs[f"{supplier} -> {registered} (placed: {', '.join(owners)})"] += 1
    return stats
