"""``srguard suspects``: MPxNs whose registration srguard's own records contradict, for the data's owners."""

from __future__ import annotations

import csv
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from processor import __version__, wiring
from processor.cli.common import (
    AllowEmpty,
    Bootstrap,
    ConfigFile,
    RedisUrl,
    Since,
    Until,
    console,
    counting_progress,
    empty_window,
    fail,
    settings_from,
    times,
    window_text,
)
from processor.cli.output import Output, OutputFormat
from processor.config import Settings
from processor.history.sources import (
    rejections_from_archive,
    rejections_from_topic,
    requests_from_topic,
)
from processor.history.stats import Scope
from processor.ledger.suspects import (
    THRESHOLD,
    Findings,
    evidence_of,
    find_suspects,
    measure,
)
from processor.ledger.suspects_page import avro_record, measured_text, print_suspects, to_json, write_suspects
from processor.names import Schema


def _truth(path: Path) -> list[tuple[str, str]]:
    """(MPxN, true NO) from a CSV with mpxn and true_no columns (``simulate publish`` writes one)."""
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"mpxn", "true_no"} <= set(reader.fieldnames):
                raise fail(f"--truth {path}: expected a CSV with columns mpxn and true_no")
            return [(row["mpxn"], row["true_no"]) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise fail(f"--truth {path}: not a readable CSV ({exc})") from exc


def _publish(settings: Settings, findings: Findings, threshold: int) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient

    serde, found_at, topic = wiring.serde_from(settings), int(time.time() * 1000), settings.topics.suspects
    if topic not in AdminClient(settings.kafka_config("admin")).list_topics(timeout=15).topics:
        # never made by a produce (a broker auto-creating it would not compact it)
        raise fail(f"topic {topic} does not exist: create it with 'srguard topics create'")
    producer = Producer(settings.kafka_config("producer", **{"enable.idempotence": True}))
    failed: list[str] = []
    for suspect in findings.suspects:
        value = serde.encode(Schema.REGISTRATION_SUSPECT, avro_record(suspect, threshold, found_at), topic)
        producer.produce(
            topic,
            value,
            suspect.mpxn.encode(),
            on_delivery=lambda error, _msg: failed.append(str(error)) if error else None,
        )
        producer.poll(0)
    if producer.flush(30) or failed:
        raise fail(f"publishing to {topic} failed: {(failed or ['not all delivered in 30 s'])[0]}")
    console.print(f"published {len(findings.suspects):,} suspects to {topic} (key = MPxN)")


def _counted(items: Iterator[Any], read: list[int], shown: Callable[[int], None]) -> Iterator[Any]:
    for item in items:
        read[0] += 1
        if not read[0] % 1000:
            shown(read[0])
        yield item


def suspects(
    rejections: Annotated[
        list[str] | None,
        typer.Option(
            help="Rejection or audit topics to read [default: the rejected and audit topics].", show_default=False
        ),
    ] = None,
    archive: Annotated[
        list[Path] | None, typer.Option(help="SrRejection archives instead of topics.", exists=True, show_default=False)
    ] = None,
    accepted: Annotated[
        str | None,
        typer.Option(help="Accepted SRs, for NOs' own 6.15.1s [default: the accepted topic]; '' leaves them out."),
    ] = None,
    since: Since = None,
    until: Until = None,
    ledger: Annotated[bool, typer.Option("--ledger/--no-ledger", help="Add the NO-cell ledger's evidence.")] = True,
    min_days: Annotated[
        int, typer.Option(min=0, help="A cell confirmed by a response counts after this many days.")
    ] = 30,
    threshold: Annotated[int, typer.Option(min=1, help="The score that lists an MPxN.")] = THRESHOLD,
    out: Annotated[Path, typer.Option(help="Folder for suspects.html, .csv, .json.")] = Path("srguard-suspects"),
    publish: Annotated[
        bool, typer.Option(help="Also write each suspect to the suspects topic (Avro RegistrationSuspect).")
    ] = False,
    truth: Annotated[
        Path | None,
        typer.Option(help="CSV of known wrong registrations (mpxn,true_no): adds precision and recall.", exists=True),
    ] = None,
    output: Output = OutputFormat.TEXT,
    allow_empty: AllowEmpty = False,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
) -> None:
    """MPxNs whose registration srguard's records contradict: Suppliers rejected for placing one other NO's
    certificates, that NO's own 6.15.1s, device cells holding its certificates; scored by documented rules,
    grouped by the registered NO and the NO the evidence points to (table, CSV, JSON, HTML; optionally a topic)."""
    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url)
    start, end = times(since, until)
    now = int(time.time() * 1000)
    known = _truth(truth) if truth else None
    reference, ledger_store = wiring.reference_and_ledger(settings)  # refused before reading: no half-empty Redis
    lookups = wiring.report_lookups(settings)
    if lookups is None:
        raise fail("Redis is unreachable: suspects needs its party directory and registrations")
    directory, registered_of, subjects = lookups

    consumer, serde = settings.kafka_config("consumer"), wiring.serde_from(settings)
    read = [0]  # SR records read in the window (rejections, and accepted candidates beside scope.read)
    sources: list[str] = []
    records: list[Iterator[dict[str, Any]]] = []
    for path in archive or []:
        records.append(rejections_from_archive(path, start, end))
        sources.append(str(path))
    for topic in rejections or ([] if archive else [settings.topics.rejected, settings.topics.audit]):
        records.append(rejections_from_topic(consumer, topic, serde, start, end))
        sources.append(topic)
    scope, srs = Scope(), None  # scope.read: the accepted topic's other SRs, read and passed over
    progress = counting_progress("reading srguard's records")
    task = progress.add_task("read", total=None)

    def shown(count: int) -> None:
        progress.update(task, completed=count + scope.read)

    accepted_topic = settings.topics.accepted if accepted is None else accepted
    if accepted_topic:
        found = requests_from_topic(consumer, accepted_topic, serde, scope, start, end, subjects)
        srs = _counted(found, read, shown)
        sources.append(accepted_topic)
    views = None
    if ledger:
        from processor.ledger.population import population_at

        views = population_at(reference, ledger_store, end or now, min_days, directory).devices
        sources.append("the NO-cell ledger (Redis)")
    rejected = _counted(itertools.chain(*records), read, shown)
    evidence = evidence_of(rejected, srs, views, directory, registered_of, end or now, min_days)
    with progress:  # the records are read as the evidence is scored
        findings = find_suspects(evidence, registered_of, now, threshold)
    if not read[0] + scope.read and not findings.evidence:
        empty_window(f"no SR records in {', '.join(sources)} and no ledger evidence", start, end, allow_empty)
    measured = measure(findings, known) if known is not None else None
    context = {
        "window (SR time)": window_text(start, end),
        "read": "; ".join(sources),
        "threshold": str(threshold),
        "confirmed ledger cells count after": f"{min_days} days",
        "srguard": __version__,
    }
    written = write_suspects(findings, context, out, measured)
    if output is OutputFormat.JSON:
        import json

        print(json.dumps(to_json(findings, context, measured)))
    else:
        print_suspects(findings, threshold, console)
        if measured is not None:
            console.print(measured_text(measured), soft_wrap=True)
        console.print(f"wrote {', '.join(str(p) for p in written)}", soft_wrap=True)
    if publish:
        _publish(settings, findings, threshold)
