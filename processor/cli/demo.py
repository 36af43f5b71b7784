"""``srguard demo``: the whole job on the embedded stack, with a summary and an incidence report."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from processor.cli.common import ExitCode, console


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
) -> None:
    """Run the whole job on the embedded stack: population, PKI, registrations, SR stream, processor, summary."""
    from processor.devkit.demo import print_summary, run_demo  # dev tooling loads only for the demo
    from processor.report.render import to_json, write_csv, write_html
    from processor.report.stats import aggregate

    if ctx.find_root().params.get("log_level") is None:  # unless asked, the demo's own summary speaks
        logging.getLogger().setLevel(logging.WARNING)
    result = run_demo(console, meter_points, srs, seed, duis)
    stats = aggregate(result.rejections, result.party_of, result.in_scope)
    report_dir.mkdir(parents=True, exist_ok=True)
    write_csv(stats, report_dir / "incidence.csv")
    (report_dir / "incidence.json").write_text(json.dumps(to_json(stats), indent=2))
    write_html(stats, report_dir / "incidence.html", f"srguard demo, seed {seed}")
    if not print_summary(result, stats, report_dir, console):
        raise typer.Exit(ExitCode.FAILED)
