"""Re-judge history from the SR topic into prefixed output topics (audit mode by default).

Each SR is judged by the registration in force at its own time (the store keeps history), so a replay
of 2019 traffic uses 2019 registrations. Outputs keep the input record's timestamp (the SR's time).
``outputs`` names the output roles to write: an analysis needs the audit topic, not a copy of every
accepted SR. The replay reads with a group id of its own per output prefix (never the live processor's)
and stores its positions there every few seconds in one transaction with the outputs since the last
checkpoint (a transactional id per prefix): run again after an interruption, it fences the interrupted run
(whose outputs after its last checkpoint are aborted) and resumes where that checkpoint was, so a reader
of the outputs (read_committed) sees each SR judged once: exactly-once. A different window or mode into
the same prefix is refused unless ``restart``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient

from processor.config import Mode, Settings
from processor.errors import BadInput, NotDelivered
from processor.kafka.edge import error_text, produce_outputs, to_inputs
from processor.kafka.reading import HistoryReader
from processor.kafka.topics import TopicSpec, create_topics
from processor.names import OUTPUT_ROLES, Topics, replay_group
from processor.stream.judge import BatchResult, Judge

CHECKPOINT_EVERY_S = 5.0
Progress = Callable[[HistoryReader], None]


@dataclass
class ReplaySummary:
    read: int = 0
    resumed_at: int = 0  # records of the window already judged by an earlier, interrupted run
    complete_before: bool = False  # an earlier run had already judged the whole window
    totals: BatchResult = field(default_factory=BatchResult)
    topics: dict[str, str] = field(default_factory=dict)  # role -> topic, for the roles written
    written: dict[str, int] = field(default_factory=dict)  # role -> records written
    created: list[str] = field(default_factory=list)  # output topics this run created
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


def replay_topics(settings: Settings, prefix: str) -> Topics:
    return settings.topics.model_copy(update={role: prefix + getattr(settings.topics, role) for role in OUTPUT_ROLES})


def checkpoint_label(since: int | None, until: int | None, mode: Mode, roles: Collection[str]) -> str:
    """What a stored position means: a resume must be of the same window, mode and outputs."""
    return f"srguard-replay since={since} until={until} mode={mode.value} outputs={','.join(sorted(roles))}"


def replay_topic(
    settings: Settings,
    judge: Judge,
    producer: Producer,
    since: int | None,
    until: int | None,
    prefix: str,
    roles: Collection[str] = OUTPUT_ROLES,
    *,
    restart: bool = False,
    time_ordered: bool = False,
    progress: Progress | None = None,
) -> ReplaySummary:
    """Judge the window with ``judge`` (built for ``replay_topics(settings, prefix)`` and the replay's mode, on
    reference data known whole) and write its outputs of ``roles`` with ``producer``."""
    if not prefix:
        raise BadInput("an output prefix is required: a replay must not write to the live output topics")
    unknown = set(roles) - set(OUTPUT_ROLES)
    if unknown or not roles:
        raise BadInput(f"--outputs takes roles from {', '.join(OUTPUT_ROLES)}, not {', '.join(sorted(unknown))}")
    topics = judge.topics  # replay_topics(settings, prefix), as the judge was built for
    written = {getattr(topics, role): role for role in OUTPUT_ROLES if role in roles}
    label = checkpoint_label(since, until, judge.mode, roles)
    reader_config = settings.kafka_config("consumer", **{"group.id": replay_group(settings.group_id, prefix)})
    with HistoryReader(reader_config, settings.topics.requests, since, until, time_ordered=time_ordered) as reader:
        stored = {} if restart else reader.committed()
        others = {meta for _, meta in stored.values() if meta != label}
        if others:
            raise BadInput(
                f"an earlier replay into prefix {prefix!r} stored its position for another run ({others.pop()}); "
                f"this one is {label}: use another --output-prefix, or --restart to judge this window from its start"
            )
        reader.resume({partition: offset for partition, (offset, _) in stored.items()})
        summary = ReplaySummary(topics={role: topic for topic, role in written.items()}, resumed_at=reader.read)
        summary.written = dict.fromkeys(summary.topics, 0)
        summary.complete_before = bool(stored) and all(p.done for p in reader.positions.values())
        admin = AdminClient(settings.kafka_config("admin"))
        partitions = max(len(reader.positions), 1)
        outcome = create_topics(
            admin, [TopicSpec(topic, f"replay {role}", kept=True) for topic, role in written.items()], partitions
        )
        summary.created = [topic for topic, result in outcome.items() if result == "created"]
        failures: list[str] = []

        def delivered(error: KafkaError | None, _msg: Message) -> None:
            if error is not None:
                failures.append(error.str())

        def checkpoint() -> None:
            """The outputs since the last checkpoint and the positions after them: one transaction."""
            try:
                producer.send_offsets_to_transaction(
                    reader.stored(label), reader.consumer.consumer_group_metadata(), 30
                )
                producer.commit_transaction(60)
            except KafkaException as exc:
                with contextlib.suppress(KafkaException):
                    producer.abort_transaction(30)
                raise NotDelivered(
                    f"replay outputs not committed ({failures[0] if failures else error_text(exc)}): the position "
                    "was not stored and they were aborted; run again to resume from the last checkpoint"
                ) from exc

        producer.init_transactions(30)  # fences an interrupted run into this prefix: its open outputs are aborted
        producer.begin_transaction()
        started = last_checkpoint = time.perf_counter()
        for batch in reader.batches():
            result = judge(to_inputs(batch))
            outputs = [out for out in result.outputs if out.topic in written]
            produce_outputs(producer, outputs, delivered)
            producer.poll(0)
            for out in outputs:
                summary.written[written[out.topic]] += 1
            summary.totals.add(result)
            summary.read += len(batch)
            if progress:
                progress(reader)
            if time.perf_counter() - last_checkpoint >= CHECKPOINT_EVERY_S:
                checkpoint()
                producer.begin_transaction()
                last_checkpoint = time.perf_counter()
        checkpoint()
        if progress:
            progress(reader)
    summary.seconds = time.perf_counter() - started
    return summary
