"""``srguard explain``: why one SR was decided as it was (processor.history.explain), for the service desk."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from processor import wiring
from processor.avro import Serde
from processor.cli.common import Bootstrap, ConfigFile, ReadingProgress, RedisUrl, console, fail, settings_from
from processor.cli.output import Output, OutputFormat, show
from processor.config import InputFormat, Settings
from processor.domain.decision import Branch
from processor.errors import BadInput, ExitCode
from processor.history.archive import read_archive
from processor.history.explain import Explanation, explain, input_from_file, is_xml, matches
from processor.kafka.reading import HistoryReader
from processor.kafka.records import Input, Source
from processor.names import ORIGINAL_TRUNCATED_HEADER, Schema
from processor.times import iso_utc, parse_time


def _archived(path: Path, request_id: str, serde: Serde) -> tuple[Input, str] | None:
    """The SR ``request_id`` in an archive of `srguard export` (ServiceRequest, DuisRequest or SrRejection)."""
    try:
        name, records = read_archive(path)  # times in ms, as the judge reads them
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from exc
    source = Source(str(path), 0, 0)
    is_it = matches(request_id, True, serde)
    for record in records:
        if name == Schema.DUIS_REQUEST and is_it(record["document"]):
            key = record["key"].encode() if isinstance(record["key"], str) else record["key"]
            return Input(key, record["document"], [], source, record["received_at"]), f"{path} ({name})"
        if record.get("request_id") != request_id:
            continue
        if name == Schema.SR_REJECTION:
            return Input(None, record["original"], [], source, record["submitted_at"]), f"{path} ({name})"
        value = serde.encode(Schema.SERVICE_REQUEST, record, str(path))
        return Input(None, value, [], source, record["submitted_at"]), f"{path} ({name})"
    return None


def _on_topics(settings: Settings, request_id: str) -> tuple[Input, str] | None:
    """The SR ``request_id`` as srguard recorded it: a rejection or audit record, else an accepted SR or a dead
    letter (their bytes are the input's), each topic read whole with progress."""
    kafka = settings.kafka_config("consumer")
    topics = settings.topics
    serde = wiring.serde_from(settings)
    wanted, is_it = request_id.encode(), matches(request_id, settings.input_format is InputFormat.DUIS, serde)
    for topic in (topics.rejected, topics.audit, topics.accepted, topics.dlq):
        recorded = topic in (topics.rejected, topics.audit)  # rejection records: their request_id field decides
        with ReadingProgress(f"looking for {request_id} on {topic}") as progress, HistoryReader(kafka, topic) as reader:
            for batch in reader.batches():
                progress(reader)
                for m in batch:
                    value = m.value() or b""
                    if wanted not in value or not (recorded or is_it(value)):
                        continue
                    timestamp = m.timestamp()[1]
                    if recorded:
                        record = serde.decode(Schema.SR_REJECTION, value, topic)
                        if record["request_id"] != request_id:
                            continue
                        if any(header[0] == ORIGINAL_TRUNCATED_HEADER for header in m.headers() or []):
                            raise BadInput(f"{request_id}: its recorded original was cut to fit; explain --file it")
                        value, timestamp = record["original"], record["submitted_at"]
                    source = Source(topic, m.partition() or 0, m.offset() or 0)
                    return Input(m.key(), value, [], source, timestamp), topic
    return None


def _render(found: Explanation, settings: Settings, recorded: str) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    verdict = found.outcome if not found.code else f"{found.outcome} {found.code} ({found.reason})"
    table.add_row("SR", f"{found.request_id or '(unread)'} · variant {found.variant or '?'}")
    table.add_row("recorded", recorded)
    table.add_row("decision", f"{verdict} · branch {found.branch or '-'} · {settings.mode.value} mode")
    if found.detail:
        table.add_row("why", found.detail)
    if found.would_pass:
        table.add_row("would pass with", found.would_pass)
    sr = found.sr
    if sr:
        table.add_row("originator", f"{sr['originator_id']} · {sr['originator']} acting as {sr['user_role']}")
        table.add_row("target", f"{sr['target_device_id']} · {sr['device_type']} · judged on MPxN {sr['mpxn']}")
        executes = sr["execution_datetime"] or "at once"
        times = f"judged as of {sr['as_of']} (received {sr['submitted_at']}, executes {executes})"
        table.add_row("time", times)
        table.add_row("RemotePartyRole", str(sr["remote_party_role"]))
    device = found.device
    table.add_row(
        "inventory",
        f"{device['device_type']} serving {', '.join(device['mpxns'])}"
        f"{' (import ' + device['import_mpxn'] + ')' if device['import_mpxn'] else ''}, "
        f"{device['status']}, since {device['effective_from']}"
        if device
        else "no record of the device at that time",
    )
    for label, registration in (("registration", found.registration), ("next", found.next_registration)):
        if registration or label == "registration":
            table.add_row(
                label,
                f"{registration['mpxn']} → {registration['network_operator']} from {registration['effective_from']}"
                if registration
                else "none in force at that time",
            )
    for n, c in enumerate(found.certificates, 1):
        known = c.not_before is not None and c.not_after is not None
        validity = f"{iso_utc(c.not_before or 0)} .. {iso_utc(c.not_after or 0)}" if known else "?"
        owners = ", ".join(c.owners) or "no party holds it"
        read = f"entity {c.entity_id}, OU {c.role}, held by {owners}; valid {validity}; {c.chain}"
        table.add_row(f"certificate {n}", f"{c.usage}: {read}" if c.entity_id else f"{c.usage}: unreadable")
    return table


def explain_command(
    request_id: Annotated[
        str | None, typer.Argument(help="The SR's RequestID: found on srguard's output topics (or in --archive).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="A DUIS Request (XML) or one Avro ServiceRequest, judged now.")
    ] = None,
    archive: Annotated[Path | None, typer.Option(help="An archive `srguard export` wrote, to find it in.")] = None,
    at: Annotated[str | None, typer.Option(help="With --file: the SR's receipt time (default: now).")] = None,
    output: Output = OutputFormat.TEXT,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
) -> None:
    """Why one SR was accepted or rejected: the SR, the device, the registration, the certificates, the rule's
    branch and what would have made it pass, judged by run's own judge at the SR's time."""
    if (request_id is None) == (file is None) or (archive is not None and file is not None):
        raise fail("give a REQUEST_ID (with --archive to look in an archive) or --file (one of them)")
    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url)
    if file is not None:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise fail(f"cannot read {file}: {exc.strerror}") from exc
        if is_xml(data):  # a DUIS Request, whatever the input format is
            settings = settings.model_copy(update={"input_format": InputFormat.DUIS})
        received = parse_time(at) if at else int(time.time() * 1000)
        item, recorded = input_from_file(data, received), f"not recorded: {file} judged now"
    else:
        assert request_id is not None
        serde = wiring.serde_from(settings)
        found = _archived(archive, request_id, serde) if archive else _on_topics(settings, request_id)
        if found is None:
            where = str(archive) if archive else "srguard's output topics"
            raise fail(f"no SR with RequestID {request_id} in {where}", ExitCode.FAILED)
        item, recorded = found[0], f"on {found[1]}"
    explanation = explain(*wiring.explain_parts(settings), item)
    if file is not None and explanation.outcome == "dead letter":
        kind = "DUIS Request" if settings.input_format is InputFormat.DUIS else "Avro ServiceRequest"
        raise fail(f"{file} is not an SR srguard can read as a {kind}: {explanation.detail}")
    show(output, _render(explanation, settings, recorded), explanation)
    if explanation.branch == Branch.OUT_OF_SCOPE and output is OutputFormat.TEXT:
        console.print("[dim]out of scope: srguard passes it on untouched[/]")
