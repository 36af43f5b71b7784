"""``srguard demo``: the whole job on the embedded stack, with a summary and an incidence report."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Annotated

import typer

from processor import __version__
from processor.cli.common import console
from processor.errors import ExitCode


def demo(
    ctx: typer.Context,
    meter_points: Annotated[int, typer.Option(min=100, help="Meter points in the generated population.")] = 30_000,
    srs: Annotated[int, typer.Option(min=100, help="Service Requests to publish and judge.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Everything generated is deterministic for a seed.")] = 1,
    report_dir: Annotated[Path, typer.Option(help="Where the incidence report is written.")] = Path(
        "srguard-demo-report"
    ),
    duis: Annotated[
        bool, typer.Option("--duis", help="SRs as DUIS XML; device types and MPxNs from a device inventory.")
    ] = False,
    wrong_registrations: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.25, help="Share of MPxNs registered to a neighbouring NO, for srguard suspects to find."
        ),
    ] = 0.01,
) -> None:
    """Run the whole job on the embedded stack: population, PKI, registrations, SR stream, processor, summary."""
    from processor.devkit.demo import print_summary, run_demo  # dev tooling loads only for the demo
    from processor.history.page import write_report
    from processor.history.render import ReportContext
    from processor.history.stats import aggregate, auto_period

    if ctx.find_root().params.get("log_level") is None:  # unless asked, the demo's own summary speaks
        logging.getLogger().setLevel(logging.WARNING)
    result = run_demo(console, meter_points, srs, seed, duis, wrong_registrations)
    stats = aggregate(result.rejections, result.party_of, result.scope)
    context = ReportContext(
        window="the generated traffic's",
        sources={"incidents": "the demo's rejected topic", "in-scope SRs": f"the generated traffic (seed {seed})"},
        version=__version__,
        settings={
            "mode": "enforce",
            "certificate issuers": "checked against the trust store",
            "on_missing_registration": "reject",
        },
        period=auto_period(stats.first_day, stats.last_day),
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    write_report(stats, context, report_dir)
    if result.evidence is not None:
        from processor.ledger.evidence import without_credentials
        from processor.ledger.evidence_page import write_evidence

        facts = {
            "window (SR time)": "the generated traffic's",
            "would-be-blocked SRs from": "the demo's rejected topic",
            "decided in": "enforce",
            "certificate issuers": "checked against the trust store",
        }
        write_evidence(result.evidence, facts | {"srguard": __version__}, report_dir / "evidence")
        ledger = result.ledger
        console.print(
            f"evidence pack: {report_dir / 'evidence' / 'evidence.html'} (+ .csv, .json); the ledger read "
            f"{ledger.read if ledger else 0:,} accepted SRs, {ledger.changes if ledger else 0:,} NO-cell changes"
        )
        missing = without_credentials(result.evidence)
        console.print(
            "NOs without SMKI credentials, registered for meter points: "
            + (", ".join(f"{r.operator} ({r.meter_points:,} meter points)" for r in missing) or "none")
        )
    if result.suspects is not None and result.measured is not None:
        from processor.ledger.suspects import THRESHOLD
        from processor.ledger.suspects_page import measured_text, write_suspects

        facts = {
            "world": f"the demo's (seed {seed}, {wrong_registrations:.1%} of MPxNs registered to a neighbouring NO)",
            "read": "the demo's rejected and accepted topics; the NO-cell ledger with the devices' cells as read",
            "threshold": str(THRESHOLD),
        }
        write_suspects(result.suspects, facts, report_dir / "suspects", result.measured)
        planted = result.measured.planted
        console.print(
            f"suspects: {len(result.suspects.suspects):,} MPxNs listed; {measured_text(result.measured)}; "
            f"{result.reachable:,} of the {planted:,} planted MPxNs saw a judged placement of NO certificates "
            f"(the rest left no evidence but their cells); page: {report_dir / 'suspects' / 'suspects.html'}",
            soft_wrap=True,
        )
    if not print_summary(result, stats, report_dir, console):
        raise typer.Exit(ExitCode.FAILED)
