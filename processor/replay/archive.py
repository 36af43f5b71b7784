"""Avro object container archives of SR (or rejection) topics: export, and publish back.

An archive holds the decoded records (schema ``ServiceRequest`` or ``SrRejection`` from ``schemas/``),
so their own time fields (submitted_at, execution_datetime, as_of, ...) travel with them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Producer

from processor.avro import DecodeError, Serde, codec, to_millis
from processor.names import Schema
from processor.registration.publish import publish
from processor.stream.reading import read_history

EXAMPLES_KEPT = 20


@dataclass
class ArchiveSummary:
    records: int = 0
    undecodable: int = 0
    examples: list[str] = field(default_factory=list)  # "partition@offset: error" for the first few
    seconds: float = 0.0


def export_topic(
    kafka_config: dict[str, Any],
    topic: str,
    path: Path,
    schema: str,
    serde: Serde,
    since: int | None = None,
    until: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ArchiveSummary:
    summary = ArchiveSummary()
    started = time.perf_counter()

    def records() -> Iterator[dict[str, Any]]:
        for batch in read_history(kafka_config, topic, since, until):
            for msg in batch:
                try:
                    yield serde.decode(schema, msg.value() or b"", topic)
                    summary.records += 1
                except DecodeError as exc:
                    summary.undecodable += 1
                    if len(summary.examples) < EXAMPLES_KEPT:
                        summary.examples.append(f"{msg.partition()}@{msg.offset()}: {exc}")
            if progress:
                progress(summary.records)

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        fastavro.writer(
            out,
            codec(schema).schema,
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
        raise ValueError(f"{path} is not an Avro object container file: {exc}") from exc
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


def replay_archive(
    producer: Producer,
    path: Path,
    topic: str,
    serde: Serde,
    rate: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Publish a ServiceRequest archive to ``topic`` (key = target device id); returns the count."""
    name, records = read_archive(path)
    if name != Schema.SERVICE_REQUEST:
        raise ValueError(f"{path} holds {name or 'unknown'} records; only ServiceRequest archives can be replayed")
    limit = RateLimit(rate)

    def encoded() -> Iterator[tuple[bytes, bytes]]:
        for count, record in enumerate(records, 1):
            limit.wait()
            yield record["target_device_id"].encode(), serde.encode(Schema.SERVICE_REQUEST, record, topic)
            if progress and count % 1000 == 0:
                progress(count)

    sent = publish(producer, topic, encoded())
    if progress:
        progress(sent)
    return sent
