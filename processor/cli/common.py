"""What every command shares: the consoles, the error exit, common options and settings."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from confluent_kafka import KafkaError, KafkaException
from redis.exceptions import RedisError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from processor import wiring
from processor.config import Settings, load_settings
from processor.errors import ConfigFileError, ExitCode, RecordError, SrguardError
from processor.kafka.edge import denied_text, error_text
from processor.kafka.reading import HistoryReader, record_time_span
from processor.observability.logs import redis_denied_text
from processor.registration.lookup import Stores
from processor.stream.commit import is_fatal
from processor.times import iso_utc, parse_time


class FoldingConsole(Console):
    """A console whose tables fold a long cell onto more lines instead of cutting it with an ellipsis: an
    EUI-64, a request id or a path is only useful whole, however narrow the terminal or pipe."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        for item in objects:
            if isinstance(item, Table):
                for column in item.columns:
                    column.overflow = "fold"
        super().print(*objects, **kwargs)


console = FoldingConsole()
err = FoldingConsole(stderr=True)


def fail(message: str, code: int = ExitCode.USAGE) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)  # one line, however narrow the terminal
    return typer.Exit(code)


class Commands(TyperGroup):
    """The one place an error becomes a line on stderr and an exit status (processor.errors draws the tree):
    srguard's own errors carry their status; a record's fault met outside the stream, an unreachable broker or
    Redis are bad input or setup (2), a fatal Kafka error is 4. Anything else is a bug: its traceback shows."""

    def invoke(self, ctx: Any) -> Any:  # a click Context, typed in typer's private click
        try:
            return super().invoke(ctx)
        except SrguardError as exc:
            raise fail(str(exc), exc.exit_code) from exc
        except RecordError as exc:
            raise fail(str(exc)) from exc
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            denied = denied_text(exc)  # an ACL missing is setup, not a fenced producer
            fatal = isinstance(error, KafkaError) and is_fatal(error) and not denied
            raise fail(denied or error_text(exc), ExitCode.FENCED if fatal else ExitCode.USAGE) from exc
        except RedisError as exc:
            denied = redis_denied_text(exc, f"srguard {ctx.invoked_subcommand}")  # the ACL user, not the URL
            raise fail(denied or f"Redis: {exc} (the Redis URL: --redis-url, SRGUARD_REDIS_URL)") from exc
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("processor.devkit"):
                raise
            raise fail(
                "this is a development command, and this installation has no development tools (the processor's "
                "image leaves processor/devkit out): run it from a source checkout"
            ) from exc


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


AllowEmpty = Annotated[bool, typer.Option(help="Exit 0 when the window selects nothing (default: exit 8).")]


def window_text(since: int | None, until: int | None) -> str:
    start = iso_utc(since) if since is not None else "the start"
    end = iso_utc(until) if until is not None else "the end"
    return f"from {start} to {end}"


def warn_empty_inventory(settings: Settings, devices: int, at: int) -> None:
    """Device counts of 0 said as what they are: an empty device inventory, not a world without devices."""
    if not devices:
        err.print(
            f"[yellow]warning:[/] the device inventory holds no ESME or GPF in service at {iso_utc(at)}, so every "
            f"device count below is 0: load it with 'srguard devices load FILE', or publish it to "
            f"{settings.topics.devices} and let the feed apply it ('srguard feed --once')",
            soft_wrap=True,
        )


def held_text(settings: Settings, topic: str) -> str:
    """'; its records are stamped 2019-06-01 .. 2025-05-31', or what could be read of that, or that it is empty."""
    span = record_time_span(settings.kafka_config("consumer"), topic)
    if span is None:
        return f"; {topic} holds no records at all"
    held = f"; its records are stamped {iso_utc(span.earliest)[:10]} .. {iso_utc(span.latest)[:10]}"
    return held if span.read >= span.total else f"{held} (the first {span.read:,} of {span.total:,} read)"


def empty_window(what: str, since: int | None, until: int | None, allow_empty: bool, held: str = "") -> None:
    """Nothing in the window is a failure (exit 8) unless asked for: a wrong window must never look like an answer.
    ``held``: what the source does hold (``held_text``)."""
    message = f"{what} {window_text(since, until)} (by the SR's time, the record timestamp){held}"
    if allow_empty:
        err.print(f"note: {message}")
        return
    raise fail(f"{message}; check --since/--until, or --allow-empty to accept it", code=ExitCode.EMPTY_WINDOW)


def settings_from(config: Path | None, **flags: object) -> Settings:
    try:
        return load_settings(config, **flags)
    except (ValueError, ConfigFileError) as exc:
        raise fail(f"bad configuration: {exc}") from exc


def connected_stores(settings: Settings) -> Stores:
    try:
        found = wiring.stores(settings)
        found.registrations.client.ping()
    except RedisError as exc:
        where = urlsplit(settings.redis_url.get_secret_value()).netloc.rpartition("@")[2]  # never the password
        raise fail(f"cannot reach Redis at {where} (--redis-url, SRGUARD_REDIS_URL): {exc}") from exc
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


class ReadingProgress:
    """A topic read's position/total (offsets) and ETA, overall and per partition, on stderr. Where stderr is
    not a terminal (a log file, CI), a line every ``log_every_s`` instead."""

    def __init__(self, label: str, log_every_s: float = 30.0) -> None:
        self.label, self.log_every_s = label, log_every_s
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        self.tasks: dict[int | None, TaskID] = {}
        self.started = self.logged = time.monotonic()

    def __enter__(self) -> ReadingProgress:
        if err.is_terminal:  # elsewhere the lines below; a stopped bar would leave an empty line behind
            self.bars.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if err.is_terminal:
            self.bars.stop()

    def __call__(self, reader: HistoryReader) -> None:
        rows: dict[int | None, tuple[int, int]] = {None: (reader.read, reader.total)}
        rows |= {p: (pos.read, pos.total) for p, pos in reader.positions.items()}
        for partition, (done, total) in rows.items():
            if partition not in self.tasks:
                name = self.label if partition is None else f"  partition {partition}"
                self.tasks[partition] = self.bars.add_task(name, total=total)
            self.bars.update(self.tasks[partition], completed=done, total=total)
        now = time.monotonic()
        if not err.is_terminal and now - self.logged >= self.log_every_s:
            self.logged = now
            err.print(f"{self.label}: {eta_line(reader.read, reader.total, now - self.started)}")


def eta_line(done: int, total: int, elapsed_s: float) -> str:
    """'1,200 of 5,000 offsets (24%), ETA 0:01:10' from the rate so far."""
    share = f" ({done / total:.0%})" if total else ""
    eta = ""
    if done and total > done:
        eta = f", ETA {dt.timedelta(seconds=round(elapsed_s / done * (total - done)))}"
    return f"{done:,} of {total:,} offsets{share}{eta}"
