"""``srguard ledger build|get|report``: whose certificates sit in each device's NO cells."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from confluent_kafka import KafkaException
from redis.exceptions import RedisError

from processor import wiring
from processor.cli.common import (
    Bootstrap,
    ConfigFile,
    ExitCode,
    RedisUrl,
    console,
    counting_progress,
    fail,
    moment,
    settings_from,
)
from processor.ledger.build import build_ledger, device_key
from processor.ledger.report import ledger_report, print_device, print_ledger_report, write_csv_per_operator
from processor.stream.edge import error_text
from processor.stream.reading import TopicMissing

ledger_app = typer.Typer(
    help="The device NO-cell ledger: whose certificates sit in each device's NO cells.", no_args_is_help=True
)


@ledger_app.command("build")
def ledger_build(
    topic: Annotated[str | None, typer.Option(help="Accepted-SR topic to read; default: dcc.sr.accepted.")] = None,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
) -> None:
    """Apply accepted SRs (commissionings, NO-cell placements) to the ledger, from where the last build stopped."""
    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url)
    name = topic or settings.topics.accepted
    with counting_progress(f"building the ledger from {name}") as progress:
        task = progress.add_task("ledger", total=None)
        try:
            summary = build_ledger(settings, name, lambda n: progress.update(task, completed=n))
        except (TopicMissing, KafkaException, RedisError) as exc:
            raise fail(error_text(exc)) from exc
    console.print(
        f"ledger: read {summary.read:,} accepted SRs in {summary.seconds:.1f}s, {summary.events:,} "
        f"NO-cell events, {summary.devices_changed:,} devices changed, {summary.undecodable} undecodable"
    )


@ledger_app.command("get")
def ledger_get(device_id: str, config: ConfigFile = None, redis_url: RedisUrl = None) -> None:
    """One device's NO-cell history."""
    settings = settings_from(config, redis_url=redis_url)
    device_id = device_key(device_id)  # any common EUI-64 form, as `parties get` takes
    try:
        events = wiring.ledger_store(settings).history(device_id)
    except RedisError as exc:
        raise fail(f"cannot reach Redis: {exc}") from exc
    if not events:
        raise fail(f"the ledger has nothing for {device_id}", code=ExitCode.FAILED)
    print_device(device_id, events, console)


@ledger_app.command("report")
def ledger_report_command(
    at: Annotated[str | None, typer.Option(help="ISO time or epoch ms; default now.")] = None,
    min_days: Annotated[int, typer.Option(help="Never updated this many days after commissioning.")] = 30,
    csv_dir: Annotated[Path | None, typer.Option(help="Write one CSV per NO of its devices with wrong cells.")] = None,
    config: ConfigFile = None,
    redis_url: RedisUrl = None,
) -> None:
    """Devices whose NO cells were never updated, and devices whose cells hold another NO's certificates."""
    when = moment(at)
    settings = settings_from(config, redis_url=redis_url)
    try:
        registrations = wiring.stores(settings).registrations
        report = ledger_report(wiring.ledger_store(settings).devices(), registrations, when, min_days)
    except RedisError as exc:
        raise fail(f"cannot reach Redis: {exc}") from exc
    print_ledger_report(report, console)
    if csv_dir:
        written = write_csv_per_operator(report, csv_dir)
        console.print(f"wrote {len(written)} CSV files to {csv_dir} (one per network operator)")
