"""The ``srguard`` command: parses, configures, and calls the rooms that do the work."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient
from redis.exceptions import RedisError
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from processor import __version__
from processor.avro import DecodeError
from processor.config import ConfigFileError, Mode, ProcessingGuarantee, SettingError, Settings, load_settings
from processor.devkit.stack import (
    EmbeddedStack,
    StackError,
    StackState,
    default_state_file,
    is_alive,
    stop_services,
)
from processor.domain.identifiers import InvalidIdentifier, canonical_eui64
from processor.domain.rule import MissingRegistration
from processor.registration.connect import stores
from processor.registration.feed import FeedStatus
from processor.registration.loader import LoadError, LoadSummary, load_parties, load_registrations, parse_time
from processor.registration.parties import PartyStore
from processor.registration.store import RegistrationStore, tune_listpacks
from processor.replay.archive import export_topic, replay_archive
from processor.replay.topic import replay_topic
from processor.report.sources import (
    in_scope_from_archive,
    in_scope_from_topic,
    rejections_from_archive,
    rejections_from_topic,
)
from processor.report.stats import aggregate
from processor.stream.app import FeedNotReady, reference_feed
from processor.stream.app import run as run_processor
from processor.stream.dlq import DlqFlood
from processor.stream.processor import FeedStopped, ProducerFenced
from processor.stream.reading import TopicMissing
from processor.stream.topics import create_topics, topic_layout
from processor.wiring import serde_from

app = typer.Typer(
    help="SECMP0063 Network Operator certificate guard for DCC Service Requests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
stack_app = typer.Typer(
    help="The embedded broker (Apache Kafka; tansu where no JVM) and Redis on loopback.", no_args_is_help=True
)
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
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)  # one line, however narrow the terminal
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
    if state.broker:
        console.print(f"broker: {state.broker} (answered after {state.broker_start_seconds:.1f}s)")
    kafka = next((s for s in state.services if s.name == "kafka"), None)
    if kafka:
        print(f"export KAFKA_BOOTSTRAP_SERVERS={kafka.address} SRGUARD_BOOTSTRAP_SERVERS={kafka.address}")
    if any(s.name == "redis" for s in state.services):
        print(f"export REDIS_URL={state.redis_url} SRGUARD_REDIS_URL={state.redis_url}")


@stack_app.command("up")
def stack_up(
    state_file: StateFile = None,
    foreground: Annotated[bool, typer.Option(help="Stay attached; Ctrl-C stops the stack.")] = False,
    persist: Annotated[
        bool, typer.Option(help="Kafka and Redis keep their data in the stack's folder across restarts.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the addresses as JSON.")] = False,
    broker: Annotated[
        str | None,
        typer.Option(
            help="kafka (Apache Kafka, no fallback), tansu, or auto: Apache Kafka where Java and Maven allow.",
            envvar="SRGUARD_STACK_BROKER",
            show_default="auto",
        ),
    ] = None,
) -> None:
    """Start a broker (Apache Kafka, KRaft) and redis-server on free loopback ports and print their addresses."""
    state_file = state_file or default_state_file()
    if state_file.exists() and any(is_alive(s) for s in StackState.load(state_file).services):
        raise fail(f"a stack is already running (see {state_file}); run 'srguard stack down' first")
    try:
        stack = EmbeddedStack(state_file.parent / "stack", detach=not foreground, persist=persist, broker=broker)
        state = stack.start()
    except StackError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "kafka_bootstrap": state.kafka_bootstrap,
                    "redis_url": state.redis_url,
                    "broker": state.broker,
                    "broker_start_seconds": state.broker_start_seconds,
                }
            )
        )
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


topics_app = typer.Typer(help="srguard's topics.", no_args_is_help=True)
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
    except (KafkaException, TimeoutError) as exc:
        reason = exc.args[0] if exc.args else "no answer in time"
        raise fail(f"could not create topics on {settings.bootstrap_servers}: {reason}") from exc
    table = Table("topic", "result", "purpose")
    for spec in topic_layout(settings.topics):
        table.add_row(spec.name, outcome[spec.name], spec.purpose + (" (compacted)" if spec.compacted else ""))
    console.print(table)


@app.command()
def demo(
    meter_points: Annotated[int, typer.Option(min=100, help="Meter points in the generated population.")] = 30_000,
    srs: Annotated[int, typer.Option(min=100, help="Service Requests to publish and judge.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Everything generated is deterministic for a seed.")] = 1,
    report_dir: Annotated[Path, typer.Option(help="Where the incidence report is written.")] = Path(
        "srguard-demo-report"
    ),
) -> None:
    """Run the whole job on the embedded stack: population, PKI, registrations, SR stream, processor, summary."""
    from processor.devkit.demo import run_demo  # matplotlib and the generators load only for commands that use them
    from processor.report.render import to_json, write_csv, write_html

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = run_demo(console, meter_points, srs, seed)
    stats = aggregate(result.rejections, result.party_of, result.in_scope)
    report_dir.mkdir(parents=True, exist_ok=True)
    write_csv(stats, report_dir / "incidence.csv")
    (report_dir / "incidence.json").write_text(json.dumps(to_json(stats), indent=2))
    write_html(stats, report_dir / "incidence.html", f"srguard demo, seed {seed}")
    table = Table(
        "outcome",
        "SRs",
        title=f"{result.consumed:,} SRs judged in {result.seconds:.1f}s "
        f"({result.rate:,.0f} SR/s, exactly-once, one process)",
    )
    for outcome, count in sorted(result.outcomes.items(), key=lambda kv: -kv[1]):
        table.add_row(outcome, f"{count:,}")
    console.print(table)
    codes = Table("code", "reason", "SRs", title="Rejections by code (project-defined codes, see README)")
    for (code, reason), count in result.codes.most_common():
        codes.add_row(code, reason, f"{count:,}")
    console.print(codes)
    pairs = Table("supplier -> registered NO (certificates placed)", "SRs", title="Top incident pairs")
    for pair, count in stats.pairs.most_common(8):  # wrong-owner incidents only (report.stats)
        pairs.add_row(pair, f"{count:,}")
    console.print(pairs)
    check = "matches" if result.outcomes["rejected"] == result.expected_rejections else "DOES NOT match"
    console.print(
        f"rejections: {result.outcomes['rejected']:,}, which {check} the {result.expected_rejections:,} "
        f"incidents the generator planted"
    )
    console.print(
        f"{stats.total:,} incidents among {stats.in_scope:,} in-scope SRs "
        f"({stats.rate_per_10k or 0:.1f} per 10,000); report: {report_dir / 'incidence.html'} (+ .csv, .json)"
    )
    console.print(f"/metrics was served at {result.metrics_url} while the demo ran")
    console.print("stack stopped; nothing left running")
    if result.outcomes["rejected"] != result.expected_rejections:
        raise typer.Exit(1)


registrations_app = typer.Typer(help="Registration data in Redis: bulk loads and look-ups.", no_args_is_help=True)
parties_app = typer.Typer(help="The party directory in Redis: bulk loads and look-ups.", no_args_is_help=True)
app.add_typer(registrations_app, name="registrations")
app.add_typer(parties_app, name="parties")

RedisUrl = Annotated[str | None, typer.Option("--redis-url", help="Redis URL.", show_default=False)]
InputFile = Annotated[Path, typer.Argument(help="CSV with a header; .gz or gzip content accepted.")]


def _connected_stores(settings: Settings) -> tuple[RegistrationStore, PartyStore]:
    try:
        found = stores(settings)
        found[0].client.ping()
    except RedisError as exc:
        raise fail(f"cannot reach Redis: {exc}") from exc
    return found


def _finish_load(load: Callable[[], LoadSummary], what: str) -> None:
    """Run a bulk load, print its summary; exit 1 when any line was rejected (the rest is loaded)."""
    try:
        summary = load()
    except LoadError as exc:
        raise fail(str(exc)) from exc
    _print_summary(summary, what)
    if summary.rejected_total:
        raise typer.Exit(1)


def _print_summary(summary: LoadSummary, what: str) -> None:
    counts = ", ".join(f"{v} {k}" for k, v in sorted(summary.counts.items()))
    console.print(
        f"{what}: {summary.lines} lines in {summary.seconds:.1f}s ({summary.rate:,.0f} lines/s); "
        f"{counts}; {summary.rejected_total} rejected; {summary.warnings_total} warnings"
    )
    for line, reason in summary.rejected:
        err.print(f"  line {line}: rejected: {reason}")
    if summary.rejected_total > len(summary.rejected):
        err.print(f"  ... and {summary.rejected_total - len(summary.rejected)} more rejected lines")
    for line, reason in summary.warnings:
        err.print(f"  line {line}: warning: {reason}")
    if summary.warnings_total > len(summary.warnings):
        err.print(f"  ... and {summary.warnings_total - len(summary.warnings)} more warnings")


@registrations_app.command("load")
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
    registrations, _ = _connected_stores(settings)
    tune_listpacks(registrations.client)
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

        _finish_load(lambda: load_registrations(file, registrations, advance, workers), f"registrations from {file}")


@registrations_app.command("get")
def registrations_get(
    mpxn: str,
    at: Annotated[str | None, typer.Option(help="ISO time or epoch ms; default now.")] = None,
    config: ConfigFile = None,
    redis_url: RedisUrl = None,
) -> None:
    """Show an MPxN's registration history and the record in force at --at."""
    settings = settings_from(config, redis_url=redis_url)
    registrations, _ = _connected_stores(settings)
    when = parse_time(at) if at else int(time.time() * 1000)
    history = registrations.history(mpxn.strip())
    if not history:
        raise fail(f"no registration for {mpxn}", code=1)
    current = registrations.lookup(mpxn.strip(), when)
    table = Table(
        "effective_from (UTC)",
        "network operator",
        "supplier",
        "fuel",
        "sequence",
        "in force",
        title=f"{mpxn} at {_iso(when)}",
    )
    for record in history:
        table.add_row(
            _iso(record.effective_from),
            record.network_operator_id or "—",
            record.supplier_id or "—",
            record.fuel.value,
            str(record.sequence),
            "◀" if record == current else "",
        )
    console.print(table)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


@parties_app.command("load")
def parties_load(file: InputFile, config: ConfigFile = None, redis_url: RedisUrl = None) -> None:
    """Load a party directory file: entity_id,party_id,role[,valid_from,valid_to]."""
    settings = settings_from(config, redis_url=redis_url)
    _, parties = _connected_stores(settings)
    _finish_load(lambda: load_parties(file, parties), f"parties from {file}")


@parties_app.command("get")
def parties_get(entity_id: str, config: ConfigFile = None, redis_url: RedisUrl = None) -> None:
    """Show which parties hold a certificate entity id (EUI-64, any common form)."""
    settings = settings_from(config, redis_url=redis_url)
    _, parties = _connected_stores(settings)
    try:
        held = parties.get(entity_id)
    except InvalidIdentifier as exc:
        raise fail(str(exc)) from exc
    if not held:
        raise fail(f"no party holds {entity_id}", code=1)
    table = Table("party", "role", "valid_from", "valid_to", title=canonical_eui64(entity_id))
    for party in held:
        table.add_row(
            party.party_id,
            party.role,
            _iso(party.valid_from) if party.valid_from else "—",
            _iso(party.valid_to) if party.valid_to else "—",
        )
    console.print(table)


@app.command()
def feed(config: ConfigFile = None, bootstrap_servers: Bootstrap = None, redis_url: RedisUrl = None) -> None:
    """Keep Redis fed from the registration and party topics until SIGTERM/Ctrl-C (one feed serves many processors)."""
    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url)
    registrations, parties = _connected_stores(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    last_print = [0.0]
    was_ready = [False]

    def report(status: FeedStatus) -> None:
        if status.ready and not was_ready[0]:
            was_ready[0] = True
            console.print(f"feed ready: caught up on {status.partitions} partitions ({status.applied} records applied)")
        if time.monotonic() - last_print[0] > 10:
            last_print[0] = time.monotonic()
            console.print(
                f"feed: {status.applied} applied, {status.rejected} rejected, "
                f"lag {status.lag_records} records / {status.lag_seconds:.1f}s"
            )

    reference = reference_feed(settings, registrations, parties)
    reference.on_batch = report
    try:
        reference.start()
    except (RuntimeError, KafkaException) as exc:
        raise fail(str(exc)) from exc
    reference.run(stop)
    console.print(f"feed stopped: {reference.status.applied} records applied")


class _Exit:
    DLQ_FLOOD = 3
    FENCED = 4
    NOT_READY = 5
    SHUTDOWN_TIMEOUT = 6
    FEED_STOPPED = 7


@app.command()
def run(
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
    group_id: Annotated[str | None, typer.Option(help="Consumer group.", show_default=False)] = None,
    mode: Annotated[
        Mode | None,
        typer.Option(help="enforce, or audit (accept all, record would-be rejections).", show_default=False),
    ] = None,
    processing_guarantee: Annotated[ProcessingGuarantee | None, typer.Option(show_default=False)] = None,
    metrics_port: Annotated[int | None, typer.Option(help="/metrics, /healthz, /readyz.", show_default=False)] = None,
    on_missing_registration: Annotated[MissingRegistration | None, typer.Option(show_default=False)] = None,
    trust_store: Annotated[
        Path | None, typer.Option(help="PEM bundle of SMKI OCA certificates.", show_default=False)
    ] = None,
    allow_untrusted_certificates: Annotated[
        bool | None,
        typer.Option(
            "--allow-untrusted-certificates",
            help="Enforce without a trust store (issuers unchecked; said in /readyz and a metric).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Judge Service Requests: consume dcc.sr.requests, decide, produce accepted/rejected/audit/DLQ."""
    settings = settings_from(
        config,
        bootstrap_servers=bootstrap_servers,
        redis_url=redis_url,
        group_id=group_id,
        mode=mode,
        processing_guarantee=processing_guarantee,
        metrics_port=metrics_port,
        on_missing_registration=on_missing_registration,
        trust_store=trust_store,
        allow_untrusted_certificates=allow_untrusted_certificates,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger("srguard").info("signal %d: finishing the batch and stopping", signum)
        stop.set()
        # A bound on shutdown: if closing hangs (a dead broker), leave anyway; uncommitted work is redone.
        watchdog = threading.Timer(settings.shutdown_timeout_s, lambda: os._exit(_Exit.SHUTDOWN_TIMEOUT))
        watchdog.daemon = True
        watchdog.start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        finished = run_processor(settings, stop)
    except DlqFlood as exc:
        raise fail(f"stopped by the DLQ flood limit: {exc}", code=_Exit.DLQ_FLOOD) from exc
    except ProducerFenced as exc:
        raise fail(
            f"{exc} (a newer instance with this transactional id, or a broken producer)", code=_Exit.FENCED
        ) from exc
    except FeedNotReady as exc:
        raise fail(str(exc), code=_Exit.NOT_READY) from exc
    except FeedStopped as exc:
        raise fail(str(exc), code=_Exit.FEED_STOPPED) from exc
    except SettingError as exc:
        raise fail(str(exc)) from exc
    except (RedisError, KafkaException, OSError) as exc:
        raise fail(f"srguard stopped: {exc}") from exc
    console.print(f"srguard stopped after {finished.processor.batches} batches")


replay_app = typer.Typer(help="Publish archives, or re-judge SR history into prefixed topics.", no_args_is_help=True)
app.add_typer(replay_app, name="replay")
Since = Annotated[
    str | None, typer.Option(help="ISO time or epoch ms (record timestamps); default: the start.", show_default=False)
]
Until = Annotated[
    str | None, typer.Option(help="ISO time or epoch ms, exclusive; default: the topic's end.", show_default=False)
]


def _times(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    try:
        return (parse_time(since) if since else None), (parse_time(until) if until else None)
    except ValueError as exc:
        raise fail(str(exc)) from exc


def _counting_progress(label: str) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn(label),
        TextColumn("{task.completed:,.0f} records"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@app.command()
def export(
    file: Annotated[Path, typer.Argument(help="Avro object container file to write.")],
    topic: Annotated[str | None, typer.Option(help="Topic to export; default: the SR topic.")] = None,
    schema: Annotated[str, typer.Option(help="ServiceRequest, or SrRejection for rejected/audit topics.")] = (
        "ServiceRequest"
    ),
    since: Since = None,
    until: Until = None,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
) -> None:
    """Write a topic's records (from --since to --until or its end) to an Avro archive."""
    if schema not in ("ServiceRequest", "SrRejection"):
        raise fail(f"--schema must be ServiceRequest or SrRejection, not {schema}")
    settings = settings_from(config, bootstrap_servers=bootstrap_servers)
    start, end = _times(since, until)
    name = topic or settings.topics.requests
    with _counting_progress(f"exporting {name}") as progress:
        task = progress.add_task("export", total=None)
        try:
            summary = export_topic(
                settings.kafka_config(),
                name,
                file,
                schema,
                serde_from(settings),
                start,
                end,
                lambda n: progress.update(task, completed=n),
            )
        except (TopicMissing, KafkaException) as exc:
            raise fail(str(exc)) from exc
    console.print(f"exported {summary.records:,} {schema} records from {name} to {file} in {summary.seconds:.1f}s")
    if summary.undecodable:
        for example in summary.examples:
            err.print(f"  not exported (undecodable): {example}")
        raise fail(f"{summary.undecodable} undecodable records were not exported", code=1)


@replay_app.command("file")
def replay_file(
    file: Annotated[Path, typer.Argument(help="A ServiceRequest archive from 'srguard export'.", exists=True)],
    topic: Annotated[str | None, typer.Option(help="Target topic; default: the SR topic.")] = None,
    rate: Annotated[float | None, typer.Option(help="At most this many records a second.", min=0.001)] = None,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
) -> None:
    """Publish an archive to the SR topic (the records keep their own times in their fields)."""
    settings = settings_from(config, bootstrap_servers=bootstrap_servers)
    target = topic or settings.topics.requests
    producer = Producer(settings.kafka_config(**{"enable.idempotence": True, "linger.ms": 20}))
    with _counting_progress(f"publishing {file.name} to {target}") as progress:
        task = progress.add_task("replay", total=None)
        try:
            sent = replay_archive(
                producer, file, target, serde_from(settings), rate, lambda n: progress.update(task, completed=n)
            )
        except (ValueError, RuntimeError) as exc:
            raise fail(str(exc)) from exc
    console.print(f"published {sent:,} records from {file} to {target}")


@replay_app.command("topic")
def replay_topic_command(
    output_prefix: Annotated[str, typer.Option(help="Prefix of the output topics, e.g. 'replay.2019.'.")],
    since: Since = None,
    until: Until = None,
    mode: Annotated[Mode, typer.Option(help="audit (default) or enforce.")] = Mode.AUDIT,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
    trust_store: Annotated[Path | None, typer.Option(help="PEM bundle of SMKI OCA certificates.")] = None,
) -> None:
    """Re-judge SR history by the registrations in force at each SR's time, into <prefix><output topic>."""
    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url, trust_store=trust_store)
    start, end = _times(since, until)
    with _counting_progress(f"replaying {settings.topics.requests}") as progress:
        task = progress.add_task("replay", total=None)
        try:
            summary = replay_topic(
                settings, start, end, output_prefix, mode, lambda n: progress.update(task, completed=n)
            )
        except (TopicMissing, KafkaException, RedisError, ValueError, RuntimeError) as exc:
            raise fail(str(exc)) from exc
    totals = summary.totals
    console.print(
        f"replayed {summary.read:,} SRs in {summary.seconds:.1f}s ({summary.rate:,.0f} SR/s): "
        f"{sum(totals.accepted.values()):,} accepted, {sum(totals.rejected.values()):,} rejected, "
        f"{sum(totals.audited.values()):,} audited, {sum(totals.dlq.values()):,} to the DLQ"
    )
    for role, name in summary.topics.items():
        console.print(f"  {role}: {name}")


@app.command()
def report(
    topic: Annotated[str | None, typer.Option(help="Rejection or audit topic to read.")] = None,
    archive: Annotated[
        Path | None, typer.Option(help="An SrRejection archive instead of a topic.", exists=True)
    ] = None,
    requests_topic: Annotated[str | None, typer.Option(help="SR topic, for the in-scope denominator.")] = None,
    requests_archive: Annotated[Path | None, typer.Option(help="SR archive, for the denominator.", exists=True)] = None,
    since: Since = None,
    until: Until = None,
    out: Annotated[Path, typer.Option(help="Folder for incidence.csv, .json and .html.")] = Path("srguard-report"),
    with_ledger: Annotated[bool, typer.Option(help="Add the NO-cell ledger's section (needs Redis).")] = False,
    min_days: Annotated[int, typer.Option(help="With --with-ledger: 'never updated' after this many days.")] = 30,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
) -> None:
    """Incidence statistics (by NO, certificate owner, supplier, SR, reason, over time) as tables, CSV, JSON, HTML."""
    from processor.report.render import print_sections, print_terminal, to_json, write_csv, write_html

    if (topic is None) == (archive is None):
        raise fail("give exactly one of --topic or --archive")
    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url)
    start, end = _times(since, until)
    serde = serde_from(settings)
    try:
        rejections = (
            rejections_from_archive(archive)
            if archive
            else rejections_from_topic(settings.kafka_config(), topic or "", serde, start, end)
        )
        in_scope = (
            in_scope_from_archive(requests_archive)
            if requests_archive
            else in_scope_from_topic(settings.kafka_config(), requests_topic, serde, start, end)
            if requests_topic
            else None
        )
        stats = aggregate(rejections, _party_lookup(settings), in_scope)
    except (TopicMissing, KafkaException, ValueError, DecodeError) as exc:
        raise fail(str(exc)) from exc
    sections = _ledger_sections(settings, min_days) if with_ledger else {}
    print_terminal(stats, console)
    print_sections(sections, console)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(stats, out / "incidence.csv")
    document = to_json(stats) | ({"ledger": {title: dict(c) for title, c in sections.items()}} if sections else {})
    (out / "incidence.json").write_text(json.dumps(document, indent=2))
    charts = write_html(stats, out / "incidence.html", str(archive or topic), sections)
    console.print(
        f"wrote {out / 'incidence.csv'}, {out / 'incidence.json'} and {out / 'incidence.html'} ({charts} charts)"
    )


def _ledger_sections(settings: Settings, min_days: int) -> dict[str, Counter[str]]:
    from processor.ledger.build import ledger_store
    from processor.ledger.report import ledger_report, summary_tables

    try:
        registrations, _ = stores(settings)
        report = ledger_report(ledger_store(settings).devices(), registrations, int(time.time() * 1000), min_days)
    except RedisError as exc:
        raise fail(f"cannot read the ledger: {exc}") from exc
    return summary_tables(report)


def _party_lookup(settings: Settings) -> Callable[[str, int], str | None]:
    """Originator EUI -> market id from the party directory in Redis; without Redis, the EUI is shown."""
    try:
        directory = stores(settings)[1].load()
    except RedisError:
        err.print("note: Redis unreachable; suppliers are shown by entity id")
        return lambda _entity, _at: None

    def party_of(entity: str, at: int) -> str | None:
        owner = directory.owner(entity, at)
        return owner.party_id if owner else None

    return party_of


ledger_app = typer.Typer(
    help="The device NO-cell ledger: whose certificates sit in each device's NO cells.", no_args_is_help=True
)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("build")
def ledger_build(
    topic: Annotated[str | None, typer.Option(help="Accepted-SR topic to read; default: dcc.sr.accepted.")] = None,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
) -> None:
    """Apply accepted SRs (commissionings, NO-cell placements) to the ledger, from where the last build stopped."""
    from processor.ledger.build import build_ledger

    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url)
    name = topic or settings.topics.accepted
    with _counting_progress(f"building the ledger from {name}") as progress:
        task = progress.add_task("ledger", total=None)
        try:
            summary = build_ledger(settings, name, lambda n: progress.update(task, completed=n))
        except (TopicMissing, KafkaException, RedisError) as exc:
            raise fail(str(exc)) from exc
    console.print(
        f"ledger: read {summary.read:,} accepted SRs in {summary.seconds:.1f}s, {summary.events:,} "
        f"NO-cell events, {summary.devices_changed:,} devices changed, {summary.undecodable} undecodable"
    )


@ledger_app.command("get")
def ledger_get(device_id: str, config: ConfigFile = None, redis_url: RedisUrl = None) -> None:
    """One device's NO-cell history."""
    from processor.ledger.build import ledger_store
    from processor.ledger.model import current_cells

    settings = settings_from(config, redis_url=redis_url)
    try:
        events = ledger_store(settings).history(device_id)
    except RedisError as exc:
        raise fail(f"cannot reach Redis: {exc}") from exc
    if not events:
        raise fail(f"the ledger has nothing for {device_id}", code=1)
    table = Table("when (UTC)", "event", "by", "NO cells hold", "MPxN", "request", title=device_id)
    for event in events:
        table.add_row(
            _iso(event.at),
            event.kind.value,
            event.actor,
            event.holder or "pre-loaded Supplier/ACB",
            event.mpxn or "—",
            event.request_id,
        )
    console.print(table)
    cells = current_cells(device_id, events)
    assert cells is not None
    console.print(
        f"now: {cells.state.value}{' (' + cells.holder + ')' if cells.holder else ''} since {_iso(cells.since)}"
    )


@ledger_app.command("report")
def ledger_report_command(
    at: Annotated[str | None, typer.Option(help="ISO time or epoch ms; default now.")] = None,
    min_days: Annotated[int, typer.Option(help="Never updated this many days after commissioning.")] = 30,
    csv_dir: Annotated[Path | None, typer.Option(help="Write one CSV per NO of its devices with wrong cells.")] = None,
    config: ConfigFile = None,
    redis_url: RedisUrl = None,
) -> None:
    """Devices whose NO cells were never updated, and devices whose cells hold another NO's certificates."""
    from processor.ledger.build import ledger_store
    from processor.ledger.report import ledger_report, write_csv_per_operator

    settings = settings_from(config, redis_url=redis_url)
    when = parse_time(at) if at else int(time.time() * 1000)
    try:
        registrations, _ = stores(settings)
        report = ledger_report(ledger_store(settings).devices(), registrations, when, min_days)
    except RedisError as exc:
        raise fail(f"cannot reach Redis: {exc}") from exc
    console.print(
        f"[bold]{report.devices:,} devices in the ledger at {_iso(when)}[/]: "
        + ", ".join(f"{n:,} {state}" for state, n in sorted(report.by_state.items()))
    )
    for title, counts in (
        (f"NO cells never updated {min_days}+ days after commissioning, by supplier", report.never_updated_by_supplier),
        ("... by registered network operator", report.never_updated_by_network_operator),
        (
            "NO cells holding another party's certificates, by registered network operator",
            report.wrong_by_network_operator,
        ),
        ("... by cause", report.wrong_by_cause),
        ("wrong cells by month they were placed", Counter(dict(sorted(report.wrong_since_by_month.items())))),
        (
            "still pre-loaded, by month of commissioning",
            Counter(dict(sorted(report.commissioned_still_preloaded_by_month.items()))),
        ),
    ):
        table = Table("key", "devices", title=title)
        for key, count in counts.items() if "month" in title else counts.most_common():
            table.add_row(key, f"{count:,}")
        console.print(table)
    if csv_dir:
        written = write_csv_per_operator(report, csv_dir)
        console.print(f"wrote {len(written)} CSV files to {csv_dir} (one per network operator)")
