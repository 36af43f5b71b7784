"""``srguard ledger build|baseline|get|report``: whose certificates sit in each device's NO cells."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from processor import wiring
from processor.cli.common import (
    Bootstrap,
    ConfigFile,
    RedisUrl,
    console,
    counting_progress,
    err,
    fail,
    moment,
    settings_from,
    warn_empty_inventory,
)
from processor.cli.examples import example
from processor.cli.output import Output, OutputFormat, show
from processor.errors import ExitCode
from processor.ledger.build import build_ledger, device_key, load_snapshot
from processor.ledger.population import cells_of, population_at, sections
from processor.ledger.printing import device_document, print_device, print_sections, write_wrong_per_operator
from processor.names import OUTCOMES_TOPIC

ledger_app = typer.Typer(
    help="The device NO-cell ledger: whose certificates sit in each device's NO cells.", no_args_is_help=True
)
MinDays = Annotated[int, typer.Option(help="'Never updated' this many days after commissioning.")]


@ledger_app.command("build", epilog=example("ledger build"))
def ledger_build(
    topic: Annotated[
        str | None,
        typer.Option(help="Accepted-SR topic (DUIS XML when SRGUARD_INPUT_FORMAT=duis); default: dcc.sr.accepted."),
    ] = None,
    outcomes: Annotated[
        str | None,
        typer.Option(help=f"Responses that confirm or undo placements (e.g. {OUTCOMES_TOPIC}); default: none."),
    ] = None,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
) -> None:
    """Apply accepted SRs (commissionings, NO-cell placements), then their outcomes, from the last build on."""
    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url)
    name = topic or settings.topics.accepted
    with counting_progress(f"building the ledger from {name}") as progress:
        task = progress.add_task("ledger", total=None)
        parts = wiring.ledger_parts(settings)
        summary = build_ledger(settings, parts, name, outcomes, lambda n: progress.update(task, completed=n))
    skipped = ", ".join(f"{n:,} {why}" for why, n in summary.skipped.most_common()) or "none"
    console.print(
        f"ledger: read {summary.read:,} records in {summary.seconds:.1f}s, {summary.changes:,} NO-cell changes, "
        f"{summary.devices_changed:,} devices changed, {summary.undecodable} undecodable, skipped: {skipped}"
    )
    if summary.undecodable and summary.undecodable == summary.read:
        console.print(
            f"no record of {name} could be read as {settings.input_format.value}: "
            "is SRGUARD_INPUT_FORMAT the format srguard run reads?"
        )


@ledger_app.command("baseline", epilog=example("ledger baseline"))
def ledger_baseline(
    csv_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="device_id,cell,entity_id,as_of")],
    config: ConfigFile = None,
    redis_url: RedisUrl = None,
) -> None:
    """Load devices' NO cells as read from the devices (e.g. SR 6.24.1 results), so devices commissioned
    before the history are known; newer placements in the ledger are kept."""
    settings = settings_from(config, redis_url=redis_url)
    summary = load_snapshot(wiring.ledger_store(settings), csv_file)
    console.print(
        f"baseline: {summary.rows:,} cells of {summary.devices:,} devices read, "
        f"{summary.devices_changed:,} devices changed, {len(summary.rejected):,} lines rejected"
    )
    for line in summary.rejected[:20]:
        err.print(f"rejected {line}")
    if summary.rejected:
        more = len(summary.rejected) - 20
        raise fail(
            f"{len(summary.rejected):,} lines rejected" + (f" ({more:,} more not shown)" if more > 0 else ""),
            code=ExitCode.FAILED,
        )


@ledger_app.command("get", epilog=example("ledger get"))
def ledger_get(
    device_id: str,
    at: Annotated[str | None, typer.Option(help="Owners as at this time (ISO or epoch ms); default now.")] = None,
    config: ConfigFile = None,
    redis_url: RedisUrl = None,
    output: Output = OutputFormat.TEXT,
) -> None:
    """One device's NO cells: what each holds, since when, placed by whom with which SR, confirmed or not."""
    settings = settings_from(config, redis_url=redis_url)
    device_id = device_key(device_id)  # any common EUI-64 form, as `parties get` takes
    client = wiring.redis_client(settings)
    try:
        cells = cells_of(wiring.ledger_store(settings, client), device_id)
    except ValueError as exc:
        raise fail(f"{device_id} is not an EUI-64: {exc}") from exc
    directory = wiring.stores(settings, client).parties.load()
    if not cells.known:
        raise fail(f"the ledger has nothing for {device_id}", code=ExitCode.FAILED)
    when = moment(at)
    if output is OutputFormat.JSON:
        show(output, "", device_document(device_id, cells, directory, when))
    else:
        print_device(device_id, cells, directory, when, console)


@ledger_app.command("report", epilog=example("ledger report"))
def ledger_report_command(
    at: Annotated[str | None, typer.Option(help="ISO time or epoch ms; default now.")] = None,
    min_days: MinDays = 30,
    csv_dir: Annotated[Path | None, typer.Option(help="Write one CSV per NO of its devices with wrong cells.")] = None,
    config: ConfigFile = None,
    redis_url: RedisUrl = None,
) -> None:
    """Every ESME and GPF in service (device inventory) by the state of its NO cells: never updated, holding
    another party's certificates (by cause), partly updated, correct, unknown."""
    settings = settings_from(config, redis_url=redis_url)
    when = moment(at)  # a bad --at is a usage error before Redis is asked
    population = population_at(*wiring.reference_and_ledger(settings), when, min_days)
    warn_empty_inventory(settings, len(population.devices), when)
    print_sections(population, sections(population), console)
    if csv_dir:
        written = write_wrong_per_operator(population, csv_dir)
        console.print(f"wrote {len(written)} CSV files to {csv_dir} (one per network operator)")
