"""Reference data: ``srguard topics create``, ``registrations load|get``, ``parties load|get``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from processor.cli.common import (
    Bootstrap,
    ConfigFile,
    RedisUrl,
    connected_stores,
    console,
    err,
    fail,
    moment,
    settings_from,
)
from processor.cli.examples import example
from processor.cli.output import Output, OutputFormat, show
from processor.domain.identifiers import canonical_eui64, fuel_of
from processor.errors import ExitCode
from processor.kafka.edge import error_text
from processor.kafka.topics import create_topics, reference_history, topic_layout, topics_table
from processor.kafka.topics import fix_reference_topics as fix_reference
from processor.registration.csvsource import LoadSummary
from processor.registration.loader import load_devices, load_parties, load_registrations
from processor.registration.present import device_table, history_table, holders_table, print_load_summary
from processor.registration.store import in_force, tune_listpacks

T = TypeVar("T")

topics_app = typer.Typer(help="srguard's topics.", no_args_is_help=True)
registrations_app = typer.Typer(help="Registration data in Redis: bulk loads and look-ups.", no_args_is_help=True)
parties_app = typer.Typer(help="The party directory in Redis: bulk loads and look-ups.", no_args_is_help=True)
devices_app = typer.Typer(help="The device inventory in Redis: bulk loads and look-ups.", no_args_is_help=True)

InputFile = Annotated[Path, typer.Argument(help="CSV with a header; .gz or gzip content accepted.")]
At = Annotated[str | None, typer.Option(help="ISO time or epoch ms; default now.")]


@topics_app.command("create", epilog=example("topics create"))
def topics_create(
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    partitions: Annotated[
        int, typer.Option(min=1, help="Partitions of each new topic (existing topics keep theirs).")
    ] = 6,
    replication_factor: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Replicas of each new topic's partitions; default: min(3, the cluster's brokers).",
            show_default=False,
        ),
    ] = None,
    fix_reference_topics: Annotated[
        bool,
        typer.Option(
            "--fix-reference-topics",
            help="Make existing reference topics keep every record (no compaction, no retention limit).",
        ),
    ] = False,
    output: Output = OutputFormat.TEXT,
) -> None:
    """Create every srguard topic that is missing (the reference topics keep every record)."""
    settings = settings_from(config, bootstrap_servers=bootstrap_servers)
    layout = topic_layout(settings.topics)
    admin = AdminClient(settings.kafka_config("admin"))
    reference = [spec.name for spec in layout if spec.reference]
    try:
        outcome = create_topics(admin, layout, partitions, replication_factor)
        fixed = fix_reference(admin, reference) if fix_reference_topics else {}
        losing = {name: found for name, found in reference_history(admin, reference).items() if found}
    except (KafkaException, TimeoutError) as exc:
        raise fail(f"could not create topics on {settings.bootstrap_servers}: {error_text(exc)}") from exc
    for name, change in fixed.items():
        outcome[name] = f"{outcome[name]}; {change}"
    for name, found in losing.items():
        outcome[name] = f"{outcome[name]}; LOSES HISTORY ({', '.join(found)}): --fix-reference-topics"
    topics = [{"topic": spec.name, "result": outcome[spec.name], "purpose": spec.purpose} for spec in layout]
    show(output, topics_table(layout, outcome), {"bootstrap_servers": settings.bootstrap_servers, "topics": topics})
    if losing:
        raise typer.Exit(ExitCode.FAILED)


@contextmanager
def _load_progress(file: Path) -> Iterator[Callable[[int, int, int], None]]:
    """A progress bar on stderr for a bulk load; yields the loader's ``progress`` callback."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[lines]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(f"loading {file.name}", total=None, lines="")

        def advance(lines: int, position: int, size: int) -> None:
            progress.update(task, lines=f"{lines:,} lines", completed=position, total=size)

        yield advance


def _finish_load(load: Callable[[], LoadSummary], what: str) -> None:
    """Run a bulk load, print its summary; exit 1 when any line was rejected (the rest is loaded)."""
    summary = load()
    print_load_summary(summary, what, console, err)
    if summary.rejected_total:
        raise typer.Exit(ExitCode.FAILED)


@registrations_app.command("load", epilog=example("registrations load"))
def registrations_load(
    file: InputFile,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes parsing and applying chunks; default: the CPU count, at most 4.")
    ] = min(4, os.cpu_count() or 1),
    config: ConfigFile = None,
    redis_url: RedisUrl = None,
) -> None:
    """Load an RDP-style refresh file: mpxn,network_operator_id,effective_from[,supplier_id,fuel,sequence]."""
    settings = settings_from(config, redis_url=redis_url)
    registrations = connected_stores(settings).registrations
    tune_listpacks(registrations.client)
    with _load_progress(file) as advance:
        _finish_load(lambda: load_registrations(file, registrations, advance, workers), f"registrations from {file}")


def _look_up(find: Callable[[], T], missing: str) -> T:
    """What a get command shows: an invalid identifier is a usage error (2), nothing found a failure (1)."""
    found = find()
    if not found:
        raise fail(missing, code=ExitCode.FAILED)
    return found


@registrations_app.command("get", epilog=example("registrations get"))
def registrations_get(
    mpxn: str,
    at: At = None,
    config: ConfigFile = None,
    redis_url: RedisUrl = None,
    output: Output = OutputFormat.TEXT,
) -> None:
    """Show an MPxN's registration history and the record in force at --at."""
    fuel_of(mpxn.strip())  # an invalid MPxN fails before any connection
    when = moment(at)
    registrations = connected_stores(settings_from(config, redis_url=redis_url)).registrations
    history = _look_up(lambda: registrations.history(mpxn.strip()), f"no registration for {mpxn}")
    current = in_force(history, when)
    data = {"mpxn": mpxn.strip(), "at": when, "in_force": current, "history": history}
    show(output, history_table(mpxn, when, history, current), data)


@parties_app.command("load", epilog=example("parties load"))
def parties_load(file: InputFile, config: ConfigFile = None, redis_url: RedisUrl = None) -> None:
    """Load a party directory file: entity_id,party_id,role[,valid_from,valid_to]."""
    settings = settings_from(config, redis_url=redis_url)
    parties = connected_stores(settings).parties
    _finish_load(lambda: load_parties(file, parties), f"parties from {file}")


@parties_app.command("get", epilog=example("parties get"))
def parties_get(
    entity_id: str, config: ConfigFile = None, redis_url: RedisUrl = None, output: Output = OutputFormat.TEXT
) -> None:
    """Show which parties hold a certificate entity id (EUI-64, any common form)."""
    parties = connected_stores(settings_from(config, redis_url=redis_url)).parties
    held = _look_up(lambda: parties.get(entity_id), f"no party holds {entity_id}")
    show(output, holders_table(entity_id, held), {"entity_id": canonical_eui64(entity_id), "parties": held})


@devices_app.command("load", epilog=example("devices load"))
def devices_load(file: InputFile, config: ConfigFile = None, redis_url: RedisUrl = None) -> None:
    """Load a device inventory extract: device_id,device_type,effective_from[,mpxn,export_mpxn,status,sequence]."""
    settings = settings_from(config, redis_url=redis_url)
    devices = connected_stores(settings).devices
    tune_listpacks(devices.client)
    with _load_progress(file) as advance:
        _finish_load(lambda: load_devices(file, devices, advance), f"devices from {file}")


@devices_app.command("get", epilog=example("devices get"))
def devices_get(
    device_id: str,
    at: At = None,
    config: ConfigFile = None,
    redis_url: RedisUrl = None,
    output: Output = OutputFormat.TEXT,
) -> None:
    """Show a device's inventory history (EUI-64, any common form) and the record in force at --at."""
    when = moment(at)
    devices = connected_stores(settings_from(config, redis_url=redis_url)).devices
    history = _look_up(lambda: devices.history(device_id), f"device {device_id} is not in the inventory")
    current = in_force(history, when)
    data = {"device_id": canonical_eui64(device_id), "at": when, "in_force": current, "history": history}
    show(output, device_table(device_id, when, history, current), data)
