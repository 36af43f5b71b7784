"""One batch through the rule, with no Kafka: decode -> look up -> decide -> encode.

This is the processing step of ``srguard run`` and its test hook: feed it ``Input`` records and it
returns the ``Output`` records to produce, with the counts for the metrics. Infrastructure errors
(Redis) propagate to the caller, which pauses and retries: they never become rejections.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from confluent_kafka import Message, Producer

from processor.avro import PLAIN, DecodeError, Serde
from processor.config import Mode, Topics
from processor.domain.certificates import CertificateReader
from processor.domain.model import PartyDirectory, Registration, ServiceRequest
from processor.domain.rule import Branch, Decision, Policy, decide, is_candidate
from processor.stream.serde import Source, decode_service_request, encode_rejection, peek

Headers = list[tuple[str, bytes]]
OUTCOME_HEADER = "srguard-outcome"
FLAG_HEADER = "srguard-flag"


# Not frozen: a frozen dataclass's __init__ costs several times more, and these are made per record.
@dataclass(slots=True)
class Input:
    key: bytes | None
    value: bytes | None
    headers: Headers
    source: Source


def to_inputs(messages: Sequence[Message]) -> list[Input]:
    """The batch's records (events such as partition EOF are skipped), in one pass: this runs per record."""
    return [
        Input(m.key(), m.value(), m.headers() or [], Source(m.topic(), m.partition(), m.offset()))
        for m in messages
        if m.error() is None
    ]


@dataclass(slots=True)
class Output:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers


def produce_outputs(
    producer: Producer, outputs: Sequence[Output], on_delivery: Callable[..., None] | None = None
) -> None:
    """Produce every output, waiting for room in librdkafka's queue when it is full."""
    for out in outputs:
        while True:
            try:
                producer.produce(out.topic, out.value, out.key, headers=out.headers, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)


@dataclass
class BatchResult:
    outputs: list[Output] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)  # by branch
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)  # by (code, reason)
    audited: Counter[tuple[str, str]] = field(default_factory=Counter)
    dlq: Counter[str] = field(default_factory=Counter)  # by error class
    dead: list[bool] = field(default_factory=list)  # per input, in order: True = sent to the DLQ
    # Rejections and would-be rejections, by registered NO and by originating supplier (market ids).
    incidents_by_network_operator: Counter[str] = field(default_factory=Counter)
    incidents_by_supplier: Counter[str] = field(default_factory=Counter)
    lookups: int = 0
    misses: int = 0

    def add(self, other: BatchResult) -> None:
        """Fold another batch's counts into this one (outputs are not kept)."""
        self.accepted.update(other.accepted)
        self.rejected.update(other.rejected)
        self.audited.update(other.audited)
        self.dlq.update(other.dlq)
        self.incidents_by_network_operator.update(other.incidents_by_network_operator)
        self.incidents_by_supplier.update(other.incidents_by_supplier)
        self.lookups += other.lookups
        self.misses += other.misses


class Judge:
    def __init__(
        self,
        topics: Topics,
        mode: Mode,
        policy: Policy,
        reader: CertificateReader,
        lookup_many: Callable[[Sequence[tuple[str | None, int]]], list[Registration | None]],
        directory: Callable[[], PartyDirectory],
        max_value_bytes: int = 1 << 20,
        serde: Serde = PLAIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topics = topics
        self.mode = mode
        self.policy = policy
        self.reader = reader
        self.lookup_many = lookup_many
        self.directory = directory
        self.max_value_bytes = max_value_bytes
        self.serde = serde
        self.clock = clock

    def __call__(self, inputs: Sequence[Input]) -> BatchResult:
        result = BatchResult()
        slots: list[Output | None] = []  # outputs in input order; None = a candidate decided below
        candidates: list[tuple[int, Input, ServiceRequest]] = []
        for item in inputs:
            try:
                sr = self._candidate(item)
            except DecodeError as exc:
                slots.append(self._dead_letter(item, exc, result))
                result.dead.append(True)
                continue
            result.dead.append(False)
            if sr is None:
                slots.append(self._accepted(item, Branch.OUT_OF_SCOPE, result))
            else:
                candidates.append((len(slots), item, sr))
                slots.append(None)
        if candidates:
            registrations = self.lookup_many([(sr.mpxn, sr.as_of) for _, _, sr in candidates])
            directory = self.directory()
            result.lookups += sum(1 for _, _, sr in candidates if sr.mpxn)
            result.misses += sum(
                1 for (_, _, sr), reg in zip(candidates, registrations, strict=True) if sr.mpxn and reg is None
            )
            decided_at = int(self.clock() * 1000)
            extra: list[Output] = []
            for (slot, item, sr), registration in zip(candidates, registrations, strict=True):
                decision = decide(sr, registration, directory, self.reader, self.policy)
                if not decision.accepted:
                    supplier = directory.owner(sr.originator_id, sr.as_of)
                    result.incidents_by_network_operator[decision.registered_network_operator_id or "none"] += 1
                    result.incidents_by_supplier[supplier.party_id if supplier else "unknown"] += 1
                slots[slot], audit = self._judged(item, sr, decision, decided_at, result)
                if audit is not None:
                    extra.append(audit)
            result.outputs.extend(extra)
        result.outputs[:0] = [s for s in slots if s is not None]
        return result

    def _candidate(self, item: Input) -> ServiceRequest | None:
        if item.value is None:
            raise DecodeError("tombstone (null value) on the SR topic", "empty")
        if len(item.value) > self.max_value_bytes:
            raise DecodeError(
                f"value of {len(item.value)} bytes exceeds the {self.max_value_bytes}-byte limit", "too_large"
            )
        head = peek(self.serde.avro_body(item.value))
        if not is_candidate(head.variant, head.user_role, head.device_type):
            return None
        return decode_service_request(item.value, self.serde, item.source.topic)

    def _accepted(self, item: Input, branch: Branch, result: BatchResult, flag: str | None = None) -> Output:
        result.accepted[branch.value] += 1
        headers = [*item.headers, (OUTCOME_HEADER, b"accepted")]
        if flag:
            headers.append((FLAG_HEADER, flag.encode()))
        return Output(self.topics.accepted, item.key, item.value, headers)

    def _judged(
        self, item: Input, sr: ServiceRequest, decision: Decision, decided_at: int, result: BatchResult
    ) -> tuple[Output, Output | None]:
        if decision.accepted:
            flag = decision.reason.value if decision.flagged and decision.reason else None
            return self._accepted(item, decision.branch, result, flag), None
        assert decision.code and decision.reason and item.value is not None
        label = (decision.code, decision.reason.value)
        target = self.topics.audit if self.mode is Mode.AUDIT else self.topics.rejected
        rejection = encode_rejection(sr, decision, decided_at, item.source, item.value, self.serde, target)
        if self.mode is Mode.AUDIT:
            result.audited[label] += 1
            audit = Output(self.topics.audit, item.key, rejection, [(OUTCOME_HEADER, b"audit")])
            return self._accepted(item, decision.branch, result), audit
        result.rejected[label] += 1
        return Output(self.topics.rejected, item.key, rejection, [(OUTCOME_HEADER, b"rejected")]), None

    def _dead_letter(self, item: Input, exc: DecodeError, result: BatchResult) -> Output:
        error_class = exc.error_class
        result.dlq[error_class] += 1
        headers = [
            *item.headers,
            ("srguard-error", str(exc).encode()),
            ("srguard-error-class", error_class.encode()),
            ("srguard-source-topic", item.source.topic.encode()),
            ("srguard-source-partition", str(item.source.partition).encode()),
            ("srguard-source-offset", str(item.source.offset).encode()),
        ]
        return Output(self.topics.dlq, item.key, item.value, headers)
