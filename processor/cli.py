"""The ``srguard`` command: parses, configures, and calls the rooms that do the work."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from rich.console import Console
from rich.table import Table

from processor import __version__
from processor.config import ConfigFileError, Settings, load_settings
from processor.stack import (
    EmbeddedStack,
    StackError,
    StackState,
    default_state_file,
    is_alive,
    stop_services,
)
from processor.stream.topics import create_topics, topic_layout

app = typer.Typer(
    help="SECMP0063 Network Operator certificate guard for DCC Service Requests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
stack_app = typer.Typer(help="The embedded broker (tansu) and Redis on loopback.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")

console = Console()
err = Console(stderr=True)

StateFile = Annotated[
    Path | None,
    typer.Option(
        "--state-file",
        help="Where a detached stack records its processes [default: $XDG_STATE_HOME/srguard/stack.json].",
        envvar="SRGUARD_STACK_STATE",
        show_default=False,
    ),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@app.command()
def version() -> None:
    """Print srguard's version."""
    console.print(f"srguard {__version__}")


def _print_stack(state: StackState) -> None:
    table = Table("service", "address", "pid", "state", "log")
    for service in state.services:
        table.add_row(
            service.name,
            service.address,
            str(service.pid),
            "running" if is_alive(service) else "[red]stopped[/]",
            service.log,
        )
    console.print(table)
    kafka = next((s for s in state.services if s.name == "kafka"), None)
    if kafka:
        print(f"export KAFKA_BOOTSTRAP_SERVERS={kafka.address} SRGUARD_BOOTSTRAP_SERVERS={kafka.address}")
    if any(s.name == "redis" for s in state.services):
        print(f"export REDIS_URL={state.redis_url} SRGUARD_REDIS_URL={state.redis_url}")


@stack_app.command("up")
def stack_up(
    state_file: StateFile = None,
    foreground: Annotated[bool, typer.Option(help="Stay attached; Ctrl-C stops the stack.")] = False,
    persist: Annotated[bool, typer.Option(help="Redis keeps its data (AOF) in the stack's folder.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the addresses as JSON.")] = False,
) -> None:
    """Start tansu and redis-server on free loopback ports and print their addresses."""
    state_file = state_file or default_state_file()
    if state_file.exists() and any(is_alive(s) for s in StackState.load(state_file).services):
        raise fail(f"a stack is already running (see {state_file}); run 'srguard stack down' first")
    stack = EmbeddedStack(state_file.parent / "stack", detach=not foreground, persist=persist)
    try:
        state = stack.start()
    except StackError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        console.print_json(json.dumps({"kafka_bootstrap": state.kafka_bootstrap, "redis_url": state.redis_url}))
    else:
        _print_stack(state)
    if not foreground:
        state.save(state_file)
        return
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    console.print("stack attached: Ctrl-C stops it")
    try:
        while not stopping and all(is_alive(s) for s in state.services):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


@stack_app.command("down")
def stack_down(state_file: StateFile = None) -> None:
    """Stop a detached stack: SIGTERM, then SIGKILL after 10 s; nothing is left behind."""
    state_file = state_file or default_state_file()
    if not state_file.exists():
        console.print("no stack is recorded; nothing to stop")
        return
    stopped = stop_services(StackState.load(state_file).services)
    state_file.unlink()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@stack_app.command("status")
def stack_status(state_file: StateFile = None) -> None:
    """Show the recorded stack; exit 1 when it is not (fully) running."""
    state_file = state_file or default_state_file()
    if not state_file.exists():
        raise fail("no stack is recorded; start one with 'srguard stack up'", code=1)
    state = StackState.load(state_file)
    _print_stack(state)
    if not all(is_alive(s) for s in state.services):
        raise typer.Exit(1)


ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="TOML settings file.", envvar="SRGUARD_CONFIG", exists=True, dir_okay=False),
]
Bootstrap = Annotated[
    str | None, typer.Option("--bootstrap-servers", help="Kafka bootstrap servers.", show_default=False)
]


def settings_from(config: Path | None, **flags: object) -> Settings:
    try:
        return load_settings(config, **flags)
    except (ValueError, ConfigFileError) as exc:
        raise fail(f"bad configuration: {exc}") from exc


topics_app = typer.Typer(help="Create and list srguard's topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")


@topics_app.command("create")
def topics_create(
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    partitions: Annotated[int, typer.Option(min=1)] = 6,
    replication_factor: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Create every srguard topic that is missing (compaction on the two reference topics)."""
    settings = settings_from(config, bootstrap_servers=bootstrap_servers)
    admin = AdminClient(settings.kafka_config())
    try:
        outcome = create_topics(admin, topic_layout(settings.topics), partitions, replication_factor)
    except KafkaException as exc:
        raise fail(f"could not create topics on {settings.bootstrap_servers}: {exc.args[0]}") from exc
    table = Table("topic", "result", "purpose")
    for spec in topic_layout(settings.topics):
        table.add_row(spec.name, outcome[spec.name], spec.purpose + (" (compacted)" if spec.compacted else ""))
    console.print(table)


@app.command()
def demo() -> None:
    """Start the embedded stack, lay out srguard's topics, show them, and stop everything."""
    settings = settings_from(None)
    with console.status("starting the embedded stack (tansu + redis-server)"), EmbeddedStack() as stack:
        _print_stack(stack.state)
        admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
        create_topics(admin, topic_layout(settings.topics), partitions=3, replication=1)
        metadata = admin.list_topics(timeout=10)
        del admin  # its threads would log the broker's shutdown
        table = Table("topic", "partitions", "purpose", title="srguard topic layout")
        for spec in topic_layout(settings.topics):
            table.add_row(spec.name, str(len(metadata.topics[spec.name].partitions)), spec.purpose)
        console.print(table)
    console.print("stack stopped; nothing left running")
