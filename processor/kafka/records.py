"""The records a processing step takes and gives: plain data, no Kafka objects."""

from __future__ import annotations

from dataclasses import dataclass

Headers = list[tuple[str, bytes]]


@dataclass(slots=True)
class Source:
    topic: str
    partition: int
    offset: int


# Not frozen: a frozen dataclass's __init__ costs several times more, and these are made per record.
@dataclass(slots=True)
class Input:
    key: bytes | None
    value: bytes | None
    headers: Headers
    source: Source
    timestamp: int = 0  # the record's timestamp, ms: a DUIS SR's receipt time


@dataclass(slots=True)
class Output:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp: int = 0  # ms: the input record's, so every output carries its SR's time (0: the time of sending)


Partition = tuple[str, int]


@dataclass(slots=True)
class Span:
    """Where a batch lies in each partition it read: its first offsets (to rewind to) and the offsets
    after its last records (to commit)."""

    first: dict[Partition, int]
    next: dict[Partition, int]


def span_of(batch: list[Input]) -> Span:
    first: dict[Partition, int] = {}
    after: dict[Partition, int] = {}
    for item in batch:
        partition = (item.source.topic, item.source.partition)
        first.setdefault(partition, item.source.offset)
        after[partition] = item.source.offset + 1
    return Span(first, after)


def partitions_text(partitions: dict[tuple[str, int], int] | set[tuple[str, int]] | list[tuple[str, int]]) -> str:
    """'dcc.sr.requests 0, 1, 2' for partitions; with offsets, 'dcc.sr.requests 0@120, 1@98': a log line people
    read, where a list or dict of tuples would print as Python's repr."""
    by_topic: dict[str, list[str]] = {}
    offsets = partitions if isinstance(partitions, dict) else None
    for topic, partition in sorted(partitions):
        shown = f"{partition}@{offsets[(topic, partition)]}" if offsets is not None else str(partition)
        by_topic.setdefault(topic, []).append(shown)
    return "; ".join(f"{topic} {', '.join(parts)}" for topic, parts in by_topic.items()) or "none"
