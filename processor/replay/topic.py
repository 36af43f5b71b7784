"""Re-judge history from the SR topic into prefixed output topics (audit mode by default).

Each SR is judged by the registration in force at its own time (the store keeps history), so a replay
of 2019 traffic uses 2019 registrations. The replay reads with its own group id and commits nothing:
the live processor's offsets are untouched. It ends at ``until`` or at the topic's end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka.admin import AdminClient

from processor import wiring
from processor.config import Mode, Settings
from processor.names import OUTPUT_ROLES, Topics, replay_group
from processor.stream.edge import produce_outputs, to_inputs
from processor.stream.judge import BatchResult
from processor.stream.reading import read_history
from processor.stream.topics import TopicSpec, create_topics


@dataclass
class ReplaySummary:
    read: int = 0
    totals: BatchResult = field(default_factory=BatchResult)
    topics: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


def replay_topics(settings: Settings, prefix: str) -> Topics:
    return settings.topics.model_copy(update={role: prefix + getattr(settings.topics, role) for role in OUTPUT_ROLES})


def replay_topic(
    settings: Settings,
    since: int | None,
    until: int | None,
    prefix: str,
    mode: Mode = Mode.AUDIT,
    progress: Callable[[int], None] | None = None,
) -> ReplaySummary:
    if not prefix:
        raise ValueError("an output prefix is required: a replay must not write to the live output topics")
    topics = replay_topics(settings, prefix)
    admin = AdminClient(settings.kafka_config("admin"))
    partitions = len(
        admin.list_topics(settings.topics.requests, timeout=30).topics[settings.topics.requests].partitions
    )
    create_topics(
        admin, [TopicSpec(getattr(topics, role), f"replay {role}") for role in OUTPUT_ROLES], max(partitions, 1), 1
    )
    judge = wiring.judge(settings, topics, mode, wiring.stores(settings), wiring.serde_from(settings))
    producer = wiring.output_producer(settings, judge.max_record_bytes)
    summary = ReplaySummary(topics={role: getattr(topics, role) for role in OUTPUT_ROLES})
    started = time.perf_counter()
    reader_config = settings.kafka_config("consumer", **{"group.id": replay_group(settings.group_id)})
    for batch in read_history(reader_config, settings.topics.requests, since, until):
        result = judge(to_inputs(batch))
        produce_outputs(producer, result.outputs)
        producer.poll(0)
        summary.totals.add(result)
        summary.read += len(batch)
        if progress:
            progress(summary.read)
    if producer.flush(60):
        raise RuntimeError("not every replay output was delivered within 60 s")
    summary.seconds = time.perf_counter() - started
    return summary
