"""``srguard evidence``: one pack (HTML, CSV, JSON) per window answering the working group's question."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from processor import __version__, wiring
from processor.cli.common import (
    AllowEmpty,
    Bootstrap,
    ConfigFile,
    RedisUrl,
    Since,
    Until,
    console,
    empty_window,
    held_text,
    settings_from,
    times,
    warn_empty_inventory,
    window_text,
)
from processor.history.sources import Recorded, recorded_issuers, recorded_mode, rejections_from_topic
from processor.ledger.evidence import collect_evidence, without_credentials
from processor.ledger.evidence_page import write_evidence
from processor.times import iso_utc


def evidence(
    audit: Annotated[str | None, typer.Option(help="Would-be rejections (audit mode); default: dcc.sr.audit.")] = None,
    since: Since = None,
    until: Until = None,
    min_days: Annotated[int, typer.Option(help="'Never updated' this many days after commissioning.")] = 30,
    out: Annotated[Path, typer.Option(help="Folder for evidence.html, .json, .csv.")] = Path("srguard-evidence"),
    allow_empty: AllowEmpty = False,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
) -> None:
    """Per Network Operator: meter points, devices, SRs the check would block and the share of its devices
    they touch, devices never updated or holding another party's certificates, NOs without SMKI
    credentials. Devices are judged at the window's end (or now); the ledger is as last built."""
    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url)
    start, end = times(since, until)
    at = end if end is not None else int(time.time() * 1000)
    topic = audit or settings.topics.audit
    reference, ledger = wiring.reference_and_ledger(settings)  # refused before reading: no half-empty Redis
    serde = wiring.serde_from(settings)
    recorded = Recorded()
    rejected = list(rejections_from_topic(settings.kafka_config("consumer"), topic, serde, start, end, recorded))
    found = collect_evidence(rejected, reference, ledger, (start, end), at, min_days)
    would_block, devices = found.stats.total, sum(row.devices for row in found.rows)
    warn_empty_inventory(settings, devices, at)
    if not would_block and not devices:
        what = f"no would-be-blocked SRs in {topic} and no devices in service"
        empty_window(what, start, end, allow_empty, held_text(settings, topic))
    context = {
        "window (SR time)": window_text(start, end),
        "devices judged at": iso_utc(at),
        "would-be-blocked SRs from": topic,
        "decided in": recorded_mode(recorded.outcomes),
        "certificate issuers": recorded_issuers(recorded.issuers),
        "never updated after": f"{min_days} days",
        "srguard": __version__,
    }
    written = write_evidence(found, context, out)
    missing = without_credentials(found)
    console.print(
        f"evidence: {len(found.rows)} network operators, {devices:,} ESME/GPF devices in service, "
        f"{would_block:,} would-be-blocked SRs, {len(missing)} NOs without SMKI credentials"
        + (f" ({', '.join(r.operator for r in missing)})" if missing else "")
    )
    for row in found.rows:
        if row.devices:
            touched, never = row.share(row.would_block_devices), row.share(row.never_updated)
            console.print(
                f"  {row.operator:<8} {row.kind:<4} {row.devices:>9,} devices  would block: "
                f"{row.would_block_devices:,} ({touched:.1f}%)  never updated: {row.never_updated:,} ({never:.1f}%)"
            )
    console.print(f"wrote {', '.join(str(p) for p in written)}")
