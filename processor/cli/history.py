"""History: ``srguard export``, ``replay file|topic`` and the incidence ``report``."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from redis.exceptions import RedisError

from processor import __version__, wiring
from processor.cli.common import (
    AllowEmpty,
    Bootstrap,
    ConfigFile,
    ExitCode,
    ReadingProgress,
    RedisUrl,
    Since,
    Until,
    console,
    counting_progress,
    empty_window,
    err,
    fail,
    moment,
    settings_from,
    times,
    window_text,
)
from processor.config import Mode
from processor.errors import DecodeError, ReferenceLost, TopicMissing
from processor.kafka.edge import error_text, topic_configs
from processor.kafka.topics import TopicSpec, create_topics
from processor.names import OUTPUT_ROLES, Schema
from processor.replay.archive import (
    check_replay_target,
    export_topic,
    replay_archive,
    retention_warning,
    undecodable_hint,
)
from processor.replay.topic import replay_topic
from processor.report.render import ReportContext
from processor.report.sources import rejections_and_scope
from processor.report.stats import PERIODS, aggregate, auto_period

replay_app = typer.Typer(help="Publish archives, or re-judge SR history into prefixed topics.", no_args_is_help=True)
ARCHIVE_SCHEMAS = (Schema.SERVICE_REQUEST, Schema.SR_REJECTION)


def export(
    file: Annotated[Path, typer.Argument(help="Avro object container file to write.")],
    topic: Annotated[str | None, typer.Option(help="Topic to export; default: the SR topic.")] = None,
    schema: Annotated[
        str | None,
        typer.Option(help="ServiceRequest or SrRejection; default: the topic's own (by its name or its records)."),
    ] = None,
    since: Since = None,
    until: Until = None,
    allow_empty: AllowEmpty = False,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
) -> None:
    """Write a topic's records whose SR time is in --since..--until to an Avro archive."""
    if schema is not None and schema not in ARCHIVE_SCHEMAS:
        raise fail(f"--schema must be ServiceRequest or SrRejection, not {schema}")
    settings = settings_from(config, bootstrap_servers=bootstrap_servers)
    start, end = times(since, until)
    name = topic or settings.topics.requests
    with ReadingProgress(f"exporting {name}") as progress:
        try:
            summary = export_topic(
                settings.kafka_config("consumer"),
                name,
                file,
                Schema(schema) if schema else None,
                settings.topics,
                wiring.serde_from(settings),
                start,
                end,
                progress,
            )
        except (TopicMissing, KafkaException, RuntimeError) as exc:
            raise fail(error_text(exc)) from exc
    console.print(
        f"exported {summary.records:,} {summary.schema} records from {name} to {file} in {summary.seconds:.1f}s"
    )
    if summary.undecodable:
        for example in summary.examples:
            err.print(f"  not exported (undecodable): {example}")
        raise fail(
            f"{summary.undecodable} undecodable records were not exported ({undecodable_hint(summary.schema)})",
            code=ExitCode.FAILED,
        )
    if not summary.records:
        empty_window(f"{name} holds no records", start, end, allow_empty)


@replay_app.command("file")
def replay_file(
    file: Annotated[Path, typer.Argument(help="A ServiceRequest archive from 'srguard export'.", exists=True)],
    topic: Annotated[str | None, typer.Option(help="Target topic; default: the SR topic.")] = None,
    rate: Annotated[float | None, typer.Option(help="At most this many records a second.", min=0.001)] = None,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of the target topic, if it is created.")] = 6,
    allow_empty: AllowEmpty = False,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
) -> None:
    """Publish an archive to the SR topic, each record stamped with its SR's own time (submitted_at)."""
    settings = settings_from(config, bootstrap_servers=bootstrap_servers)
    target = topic or settings.topics.requests
    try:
        admin = AdminClient(settings.kafka_config("admin"))
        spec = TopicSpec(target, "replayed SR history", kept=True)
        if create_topics(admin, [spec], partitions, 1)[target] == "created":
            console.print(f"created topic {target} ({partitions} partitions, retention.ms=-1: history is kept)")
        target_config = topic_configs(settings.kafka_config("admin"), [target]).get(target, {})
        check_replay_target(target_config, target)
    except (ValueError, KafkaException) as exc:
        raise fail(error_text(exc)) from exc
    producer = wiring.output_producer(settings)
    with counting_progress(f"publishing {file.name} to {target}") as progress:
        task = progress.add_task("replay", total=None)
        try:
            summary = replay_archive(
                producer, file, target, wiring.serde_from(settings), rate, lambda n: progress.update(task, completed=n)
            )
        except (ValueError, RuntimeError) as exc:
            raise fail(error_text(exc)) from exc
    if summary.first is None or summary.last is None:
        empty_window(f"{file} holds no SRs", None, None, allow_empty)
        return
    console.print(
        f"published {summary.sent:,} records from {file} to {target}: "
        f"SR times {window_text(summary.first, summary.last)}"
    )
    warning = retention_warning(target_config, target, summary.first, int(time.time() * 1000))
    if warning:
        err.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)


@replay_app.command("topic")
def replay_topic_command(
    output_prefix: Annotated[str, typer.Option(help="Prefix of the output topics, e.g. 'replay.2019.'.")],
    since: Since = None,
    until: Until = None,
    mode: Annotated[Mode, typer.Option(help="audit (default) or enforce.")] = Mode.AUDIT,
    outputs: Annotated[
        str, typer.Option(help="Output roles to write, comma-separated, e.g. 'audit' for an analysis.")
    ] = ",".join(OUTPUT_ROLES),
    restart: Annotated[
        bool, typer.Option(help="Judge the window from its start, ignoring an earlier run's stored position.")
    ] = False,
    time_ordered: Annotated[
        bool, typer.Option(help="The SR topic is in time order: stop each partition at its first SR past --until.")
    ] = False,
    allow_empty: AllowEmpty = False,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
    trust_store: Annotated[Path | None, typer.Option(help="PEM bundle of SMKI OCA certificates.")] = None,
) -> None:
    """Re-judge SR history by the registrations in force at each SR's time, into <prefix><output topic>."""
    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url, trust_store=trust_store)
    start, end = times(since, until)
    roles = [role.strip() for role in outputs.split(",") if role.strip()]
    with ReadingProgress(f"replaying {settings.topics.requests}") as progress:
        try:
            judge, producer = wiring.replay_parts(settings, output_prefix, mode)
            summary = replay_topic(
                settings,
                judge,
                producer,
                start,
                end,
                output_prefix,
                roles,
                restart=restart,
                time_ordered=time_ordered,
                progress=progress,
            )
        except ReferenceLost as exc:
            raise fail(str(exc), code=ExitCode.NOT_READY) from exc
        except (TopicMissing, KafkaException, RedisError, ValueError, RuntimeError) as exc:
            raise fail(error_text(exc)) from exc
    if summary.complete_before:
        console.print(
            f"the replay into {output_prefix!r} of this window was already complete: nothing judged "
            "(--restart judges it again)"
        )
        return
    if summary.resumed_at:
        console.print(
            f"resumed after {summary.resumed_at:,} records judged by an earlier run (those judged after its last "
            "checkpoint, a few seconds' worth, were written again)"
        )
    totals = summary.totals
    console.print(
        f"replayed {summary.read:,} SRs in {summary.seconds:.1f}s ({summary.rate:,.0f} SR/s): "
        f"{sum(totals.accepted.values()):,} accepted, {sum(totals.rejected.values()):,} rejected, "
        f"{sum(totals.audited.values()):,} audited, {sum(totals.dlq.values()):,} to the DLQ"
    )
    for role, name in summary.topics.items():
        console.print(f"  {role}: {name} ({summary.written[role]:,} written)")
    if not summary.read and not summary.resumed_at:
        empty_window(f"{settings.topics.requests} holds no SRs", start, end, allow_empty)


def report(
    topic: Annotated[str | None, typer.Option(help="Rejection or audit topic to read.")] = None,
    archive: Annotated[
        Path | None, typer.Option(help="An SrRejection archive instead of a topic.", exists=True)
    ] = None,
    requests_topic: Annotated[str | None, typer.Option(help="SR topic, for the in-scope denominators.")] = None,
    requests_archive: Annotated[
        Path | None, typer.Option(help="SR archive, for the denominators.", exists=True)
    ] = None,
    since: Since = None,
    until: Until = None,
    period: Annotated[str, typer.Option(help="Time series by day, week or month; auto: by the window's length.")] = (
        "auto"
    ),
    allow_empty: AllowEmpty = False,
    out: Annotated[Path, typer.Option(help="Folder for incidence.csv, .json and .html.")] = Path("srguard-report"),
    with_ledger: Annotated[bool, typer.Option(help="Add the NO-cell ledger's section (needs Redis).")] = False,
    min_days: Annotated[int, typer.Option(help="With --with-ledger: 'never updated' after this many days.")] = 30,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
) -> None:
    """Incidence statistics: wrong certificates and registration-data gaps apart, with rates per 10,000
    in-scope SRs, by NO, certificate owner, supplier, SR, reason and over time (tables, CSV, JSON, HTML)."""
    from processor.ledger.report import population_at
    from processor.ledger.report import sections as ledger_sections
    from processor.report.page import NO_CHARTS, write_report
    from processor.report.render import print_sections, print_terminal

    if (topic is None) == (archive is None):
        raise fail("give exactly one of --topic or --archive")
    if period not in ("auto", *PERIODS):
        raise fail(f"--period takes auto, day, week or month, not {period}")
    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url)
    start, end = times(since, until)
    try:
        party_of, registered = wiring.party_lookup(settings), wiring.registered_lookup(settings)
    except ReferenceLost as exc:
        raise fail(str(exc), code=ExitCode.NOT_READY) from exc
    notes = [] if party_of is not None else ["Redis unreachable: suppliers are shown by entity id"]
    source = archive if archive is not None else topic or ""
    try:
        rejections, scope = rejections_and_scope(
            settings.kafka_config("consumer"),
            wiring.serde_from(settings),
            source,
            requests_topic or requests_archive,
            party_of or (lambda _entity, _at: None),
            start,
            end,
            registered,
        )
        stats = aggregate(rejections, party_of or (lambda _entity, _at: None), scope, (start, end))
    except (TopicMissing, KafkaException, ValueError, DecodeError, RuntimeError, RedisError) as exc:
        raise fail(error_text(exc)) from exc
    if not stats.total and (scope is None or not scope.read):
        empty_window(f"no incidents and no SRs{'' if scope else ' (no requests source)'}", start, end, allow_empty)
    sections = {}
    if with_ledger:
        try:
            sections = ledger_sections(population_at(*wiring.reference_and_ledger(settings), moment(None), min_days))
        except RedisError as exc:
            raise fail(f"cannot read the ledger: {exc}") from exc
    name = str(source)
    context = ReportContext(
        window=window_text(start, end),
        sources={"incidents": name} | ({"in-scope SRs": str(requests_topic or requests_archive)} if scope else {}),
        version=__version__,
        settings={
            "mode": "audit" if "audit" in name else "enforce" if "rejected" in name else "as recorded",
            "on_missing_registration": settings.on_missing_registration.value,
        },
        period=auto_period(stats.first_day, stats.last_day) if period == "auto" else period,
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        notes=notes,
    )
    print_terminal(stats, context, console)
    print_sections(sections, console)
    charts = write_report(stats, context, out, sections)
    console.print(
        f"wrote {out / 'incidence.csv'}, {out / 'incidence.json'} and {out / 'incidence.html'} ({charts} charts)"
    )
    if stats.total and not charts:
        err.print(f"note: {NO_CHARTS}")
