"""Avro object container archives of SR (or rejection) topics: export, and publish back.

An archive holds the decoded records (schema ``ServiceRequest`` or ``SrRejection`` from ``schemas/``),
so their own time fields (submitted_at, execution_datetime, as_of, ...) travel with them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Message, Producer

from processor.avro import Serde, codec, to_millis
from processor.errors import BadInput, DecodeError
from processor.kafka.reading import HistoryReader
from processor.names import OUTCOME_HEADER, Schema, Topics
from processor.registration.publish import publish

EXAMPLES_KEPT = 20


@dataclass
class ArchiveSummary:
    schema: Schema
    records: int = 0
    undecodable: int = 0
    examples: list[str] = field(default_factory=list)  # "partition@offset: error" for the first few
    seconds: float = 0.0


def schema_of(topic: str, topics: Topics, first: Message | None, duis: bool = False) -> Schema:
    """The schema of an srguard topic's records: by the topic's name (a replay's prefixed topics included),
    else by the first record's outcome header (rejections and audit records are SrRejection). With ``duis``
    (SRGUARD_INPUT_FORMAT=duis) SR and accepted topics hold DUIS XML: archived raw, as DuisRequest."""
    if topic.endswith((topics.rejected, topics.audit)):
        return Schema.SR_REJECTION
    if topic.endswith((topics.requests, topics.accepted)):
        return Schema.DUIS_REQUEST if duis else Schema.SERVICE_REQUEST
    outcome = dict(first.headers() or []).get(OUTCOME_HEADER) if first is not None else None
    return Schema.SR_REJECTION if outcome in (b"rejected", b"audit") else Schema.SERVICE_REQUEST


def undecodable_hint(schema: str) -> str:
    other = Schema.SR_REJECTION if schema == Schema.SERVICE_REQUEST else Schema.SERVICE_REQUEST
    return (
        f"read as {schema}: if the topic holds {other} records, give --schema {other}; if its producers use a "
        "schema registry, set SRGUARD_SCHEMA_REGISTRY_URL; a topic of DUIS XML needs SRGUARD_INPUT_FORMAT=duis"
    )


def export_topic(
    kafka_config: dict[str, Any],
    topic: str,
    path: Path,
    schema: Schema | None,
    topics: Topics,
    serde: Serde,
    since: int | None = None,
    until: int | None = None,
    progress: Callable[[HistoryReader], None] | None = None,
    duis: bool = False,
) -> ArchiveSummary:
    """Write the window's records to an Avro archive; ``schema`` None: the topic's own (``schema_of``). DUIS
    documents are archived as they are (DuisRequest: the bytes, key and record time), never parsed."""
    started = time.perf_counter()
    with HistoryReader(kafka_config, topic, since, until) as reader:
        batches = reader.batches()
        first = next(batches, [])
        summary = ArchiveSummary(schema=schema or schema_of(topic, topics, first[0] if first else None, duis))

        def decoded(msg: Message) -> dict[str, Any]:
            if summary.schema == Schema.DUIS_REQUEST:
                return {"received_at": msg.timestamp()[1], "key": msg.key(), "document": msg.value() or b""}
            return serde.decode(summary.schema, msg.value() or b"", topic)

        def records() -> Iterator[dict[str, Any]]:
            for batch in itertools.chain([first], batches):
                for msg in batch:
                    try:
                        yield decoded(msg)
                        summary.records += 1
                    except DecodeError as exc:
                        summary.undecodable += 1
                        if len(summary.examples) < EXAMPLES_KEPT:
                            summary.examples.append(f"{topic} partition {msg.partition()}@{msg.offset()}: {exc}")
                if progress:
                    progress(reader)

        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            fastavro.writer(
                out,
                codec(summary.schema).schema,
                records(),
                codec="deflate",
                metadata={"srguard.topic": topic, "srguard.since": str(since), "srguard.until": str(until)},
            )
    summary.seconds = time.perf_counter() - started
    return summary


def read_archive(path: Path) -> tuple[str, Iterator[dict[str, Any]]]:
    """(schema name, records with times in ms). Raises ValueError for a file that is not an archive."""
    handle = path.open("rb")
    try:
        reader = fastavro.reader(handle)
    except (ValueError, EOFError, fastavro.read.SchemaResolutionError) as exc:
        handle.close()
        raise BadInput(f"{path} is not an Avro object container file: {exc}") from exc
    name = str(reader.writer_schema.get("name", "")).rsplit(".", 1)[-1]  # type: ignore[union-attr]

    def records() -> Iterator[dict[str, Any]]:
        with handle:
            for record in reader:
                yield to_millis(record)  # type: ignore[arg-type]

    return name, records()


class RateLimit:
    """At most ``per_second`` calls a second, smoothly (no bursts beyond one)."""

    def __init__(self, per_second: float | None) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if now < self._next:
            time.sleep(self._next - now)
        self._next = max(now, self._next) + self.interval


@dataclass
class ReplayedArchive:
    sent: int = 0
    first: int | None = None  # the oldest and newest SR time published, ms
    last: int | None = None


def check_replay_target(topic_config: dict[str, str], topic: str) -> None:
    """A replay keeps each SR's own time as its record timestamp: a topic that overwrites it cannot hold history."""
    if topic_config.get("message.timestamp.type") == "LogAppendTime":
        raise BadInput(
            f"topic {topic} stamps records with the broker's time (message.timestamp.type=LogAppendTime): the SRs' "
            "own times would be lost and every window would select the time of the replay; replay into a "
            "CreateTime topic"
        )


def retention_warning(topic_config: dict[str, str], topic: str, oldest: int, now: int) -> str | None:
    """Said when the broker will delete replayed SRs by age: retention counts from the record timestamp."""
    retention = int(topic_config.get("retention.ms", "-1"))
    if retention < 0 or now - oldest <= retention:
        return None
    return (
        f"topic {topic} keeps records {retention / 86_400_000:g} days (retention.ms={retention}) and the oldest SR "
        f"replayed is older: the broker deletes them by their record time at its next retention check (within "
        f"minutes); for an analysis, set "
        f"retention.ms=-1 on {topic}"
    )


def replay_archive(
    producer: Producer,
    path: Path,
    topic: str,
    serde: Serde,
    rate: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayedArchive:
    """Publish a ServiceRequest archive to ``topic``: key = target device id, record timestamp = the SR's
    ``submitted_at``, so time windows downstream select by the SR's own time. A DuisRequest archive goes back
    as it was taken: each document byte for byte, with its key and its receipt time."""
    name, records = read_archive(path)
    if name not in (Schema.SERVICE_REQUEST, Schema.DUIS_REQUEST):
        raise BadInput(
            f"{path} holds {name or 'unknown'} records; only ServiceRequest and DuisRequest archives can be replayed"
        )
    limit = RateLimit(rate)
    summary = ReplayedArchive()

    def encoded() -> Iterator[tuple[bytes, bytes, int]]:
        for count, record in enumerate(records, 1):
            limit.wait()
            duis = name == Schema.DUIS_REQUEST
            stamp = record["received_at" if duis else "submitted_at"]
            summary.first = stamp if summary.first is None else min(summary.first, stamp)
            summary.last = stamp if summary.last is None else max(summary.last, stamp)
            if duis:
                yield record["key"], record["document"], stamp
            else:
                yield record["target_device_id"].encode(), serde.encode(Schema.SERVICE_REQUEST, record, topic), stamp
            if progress and count % 1000 == 0:
                progress(count)

    summary.sent = publish(producer, topic, encoded())
    if progress:
        progress(summary.sent)
    return summary
