"""What every command shares: the consoles, the error exit, common options and settings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from redis.exceptions import RedisError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from processor import wiring
from processor.config import ConfigFileError, Settings, load_settings
from processor.times import parse_time

console = Console()
err = Console(stderr=True)


class ExitCode:
    """``srguard``'s exit statuses; the README's table documents each."""

    FAILED = 1  # the command ran and found what it reports as failure (rejected lines, a missing record)
    USAGE = 2  # bad flags, settings or input: nothing was done
    DLQ_FLOOD = 3
    FENCED = 4
    NOT_READY = 5
    SHUTDOWN_TIMEOUT = 6
    FEED_STOPPED = 7


def fail(message: str, code: int = ExitCode.USAGE) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)  # one line, however narrow the terminal
    return typer.Exit(code)


ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="TOML settings file.", envvar="SRGUARD_CONFIG", exists=True, dir_okay=False),
]
Bootstrap = Annotated[
    str | None, typer.Option("--bootstrap-servers", help="Kafka bootstrap servers.", show_default=False)
]
RedisUrl = Annotated[str | None, typer.Option("--redis-url", help="Redis URL.", show_default=False)]
Since = Annotated[
    str | None, typer.Option(help="ISO time or epoch ms (record timestamps); default: the start.", show_default=False)
]
Until = Annotated[
    str | None, typer.Option(help="ISO time or epoch ms, exclusive; default: the topic's end.", show_default=False)
]


def settings_from(config: Path | None, **flags: object) -> Settings:
    try:
        return load_settings(config, **flags)
    except (ValueError, ConfigFileError) as exc:
        raise fail(f"bad configuration: {exc}") from exc


def connected_stores(settings: Settings) -> wiring.Stores:
    try:
        found = wiring.stores(settings)
        found.registrations.client.ping()
    except RedisError as exc:
        raise fail(f"cannot reach Redis: {exc}") from exc
    return found


def times(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    try:
        return (parse_time(since) if since else None), (parse_time(until) if until else None)
    except ValueError as exc:
        raise fail(str(exc)) from exc


def moment(text: str | None) -> int:
    """``--at``: an ISO time or epoch ms; now when not given."""
    if text is None:
        return int(time.time() * 1000)
    try:
        return parse_time(text)
    except ValueError as exc:
        raise fail(str(exc)) from exc


def counting_progress(label: str) -> Progress:
    """A spinner with a running record count, on stderr, gone when done."""
    return Progress(
        SpinnerColumn(),
        TextColumn(label),
        TextColumn("{task.completed:,.0f} records"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
