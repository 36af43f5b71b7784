"""``srguard run``'s progress line: what has been decided, how fast and how far behind, every
``progress_interval_s``, read from the process's own metrics (the numbers an SRE's dashboard shows)."""

from __future__ import annotations

import logging
import threading
import time
from typing import NamedTuple

from prometheus_client import CollectorRegistry

log = logging.getLogger("srguard.progress")


class Totals(NamedTuple):
    """Counters since start-up, and the consumer lag now (summed over the partitions this instance fetches)."""

    accepted: int
    rejected: int
    audited: int
    dlq: int
    lag: int | None  # None until librdkafka's first statistics

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected + self.dlq  # audited SRs are accepted too: counted once


def _count(registry: CollectorRegistry, counter: str) -> int:
    """A counter's total over all its labels."""
    total = f"{counter}_total"
    return int(sum(s.value for m in registry.collect() if m.name == counter for s in m.samples if s.name == total))


def totals(registry: CollectorRegistry) -> Totals:
    lags = [s.value for m in registry.collect() if m.name == "srguard_consumer_lag_records" for s in m.samples]
    return Totals(
        accepted=_count(registry, "srguard_sr_accepted"),
        rejected=_count(registry, "srguard_sr_rejected"),
        audited=_count(registry, "srguard_sr_audited"),
        dlq=_count(registry, "srguard_sr_dlq"),
        lag=int(sum(lags)) if lags else None,
    )


def line(before: Totals, now: Totals, elapsed_s: float) -> tuple[str, dict[str, float | int | None]]:
    """The progress line and its fields (JSON logs carry the fields)."""
    rate = (now.decided - before.decided) / elapsed_s if elapsed_s > 0 else 0.0
    lag = "unknown (no consumer statistics yet)" if now.lag is None else f"{now.lag:,} records"
    text = (
        f"progress: {now.decided:,} SRs decided ({rate:,.0f} SR/s over the last {elapsed_s:.0f}s): "
        f"{now.accepted:,} accepted, {now.rejected:,} rejected, {now.audited:,} audit, {now.dlq:,} DLQ; lag {lag}"
    )
    fields = {**now._asdict(), "decided": now.decided, "sr_per_s": round(rate, 1), "interval_s": round(elapsed_s, 1)}
    return text, fields


def report(registry: CollectorRegistry, stop: threading.Event, every_s: float) -> None:
    """Log ``line`` every ``every_s`` until ``stop`` (0: never)."""
    if every_s <= 0:
        return
    before, since = totals(registry), time.monotonic()
    while not stop.wait(every_s):
        now, at = totals(registry), time.monotonic()
        text, fields = line(before, now, at - since)
        log.info(text, extra={"fields": fields})
        before, since = now, at
