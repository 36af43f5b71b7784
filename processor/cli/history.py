"""History: ``srguard export`` and ``replay file|topic`` (the incidence ``report``: cli/report.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from confluent_kafka.admin import AdminClient

from processor import wiring
from processor.cli.common import (
    AllowEmpty,
    Bootstrap,
    ConfigFile,
    ReadingProgress,
    RedisUrl,
    Since,
    Until,
    console,
    counting_progress,
    empty_window,
    err,
    fail,
    held_text,
    settings_from,
    times,
    window_text,
)
from processor.cli.examples import example
from processor.config import InputFormat, Mode
from processor.errors import ExitCode
from processor.history.archive import (
    check_replay_target,
    export_topic,
    replay_archive,
    retention_warning,
    undecodable_hint,
)
from processor.history.replay import replay_topic
from processor.kafka.edge import topic_configs
from processor.kafka.topics import TopicSpec, create_topics
from processor.names import OUTPUT_ROLES, Schema

replay_app = typer.Typer(help="Publish archives, or re-judge SR history into prefixed topics.", no_args_is_help=True)
ARCHIVE_SCHEMAS = (Schema.SERVICE_REQUEST, Schema.SR_REJECTION, Schema.DUIS_REQUEST)


def export(
    file: Annotated[Path, typer.Argument(help="Avro object container file to write.")],
    topic: Annotated[str | None, typer.Option(help="Topic to export; default: the SR topic.")] = None,
    schema: Annotated[
        str | None,
        typer.Option(
            help="ServiceRequest, SrRejection or DuisRequest (raw DUIS XML); default: the topic's own (by its "
            "name, its records and SRGUARD_INPUT_FORMAT)."
        ),
    ] = None,
    since: Since = None,
    until: Until = None,
    allow_empty: AllowEmpty = False,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
) -> None:
    """Write a topic's records whose SR time is in --since..--until to an Avro archive."""
    if schema is not None and schema not in ARCHIVE_SCHEMAS:
        raise fail(f"--schema must be ServiceRequest, SrRejection or DuisRequest, not {schema}")
    settings = settings_from(config, bootstrap_servers=bootstrap_servers)
    start, end = times(since, until)
    name = topic or settings.topics.requests
    with ReadingProgress(f"exporting {name}") as progress:
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
            duis=settings.input_format is InputFormat.DUIS,
        )
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
        empty_window(f"{name} holds no records", start, end, allow_empty, held_text(settings, name))


@replay_app.command("file", epilog=example("replay file"))
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
    admin = AdminClient(settings.kafka_config("admin"))
    spec = TopicSpec(target, "replayed SR history", kept=True)
    if create_topics(admin, [spec], partitions)[target] == "created":
        console.print(f"created topic {target} ({partitions} partitions, retention.ms=-1: history is kept)")
    target_config = topic_configs(settings.kafka_config("admin"), [target]).get(target, {})
    check_replay_target(target_config, target)
    producer = wiring.output_producer(settings)
    with counting_progress(f"publishing {file.name} to {target}") as progress:
        task = progress.add_task("replay", total=None)
        summary = replay_archive(
            producer, file, target, wiring.serde_from(settings), rate, lambda n: progress.update(task, completed=n)
        )
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


@replay_app.command("topic", epilog=example("replay topic"))
def replay_topic_command(
    output_prefix: Annotated[str, typer.Option(help="Prefix of the output topics, e.g. 'replay.2019.'.")],
    topic: Annotated[
        str | None, typer.Option(help="SR topic to re-judge; default: the SR topic.", show_default=False)
    ] = None,
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
    if topic:
        settings = settings.model_copy(update={"topics": settings.topics.model_copy(update={"requests": topic})})
    start, end = times(since, until)
    roles = [role.strip() for role in outputs.split(",") if role.strip()]
    with ReadingProgress(f"replaying {settings.topics.requests}") as progress:
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
        made = ", created (retention.ms=-1)" if name in summary.created else ""
        console.print(f"  {role}: {name} ({summary.written[role]:,} written{made})")
    if not summary.read and not summary.resumed_at:
        source = settings.topics.requests
        empty_window(f"{source} holds no SRs", start, end, allow_empty, held_text(settings, source))
