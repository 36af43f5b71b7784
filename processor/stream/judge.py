"""One batch through the rule, with no Kafka: decode -> look up -> decide -> encode.

Look-ups, once per batch and for candidates only (processor.registration.lookup): the device inventory
(each target at the SR's time) and the registrations of the subjects' MPxNs, with the party directory's
version, in one round trip when the SRs name their MPxNs; the directory itself is held in memory.

This is the processing step of ``srguard run`` and ``replay topic``, and their test hook: feed it
``Input`` records and it returns the ``Output`` records to produce, with the counts for the metrics.

Per-record isolation: whatever one SR's bytes or certificates are, a fault while reading, deciding
or encoding it makes that SR a dead letter, never a failed batch. Every output fits the record limit.
Infrastructure errors (Redis) propagate to the caller, which pauses and retries: they never become
rejections.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from processor.avro import PLAIN, Serde
from processor.config import Mode
from processor.domain.certificates import CertificateReader
from processor.domain.decision import Branch, Decision, Policy
from processor.domain.model import PartyDirectory, Registration, ServiceRequest
from processor.domain.reference import BatchReference, Reference
from processor.domain.rule import decide_candidate
from processor.domain.subject import Subject, subject_of
from processor.duis.response import response_xml
from processor.errors import DecodeError, ErrorClass
from processor.kafka.edge import DEFAULT_MAX_RECORD_BYTES
from processor.kafka.records import Input, Output
from processor.names import FLAG_HEADER, ISSUERS_HEADER, ORIGINAL_TRUNCATED_HEADER, OUTCOME_HEADER, Topics
from processor.observability.metrics import Metrics
from processor.stream.dlq import dead_letter, record_size
from processor.stream.serde import SrReader, avro_reader, encode_rejection

_ACCEPTED = (OUTCOME_HEADER, b"accepted")


@dataclass
class BatchResult:
    outputs: list[Output] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)  # by branch
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)  # by (code, reason)
    audited: Counter[tuple[str, str]] = field(default_factory=Counter)
    dlq: Counter[str] = field(default_factory=Counter)  # by error class
    dead: list[bool] = field(default_factory=list)  # per input, in order: True = sent to the DLQ
    # Rejections and would-be rejections, by (registered NO, originating supplier) market ids.
    incidents: Counter[tuple[str, str]] = field(default_factory=Counter)
    lookups: int = 0
    misses: int = 0
    inventory_misses: int = 0  # candidates whose device the inventory does not hold (their own fields stood)

    def add(self, other: BatchResult) -> None:
        """Fold another batch's counts into this one (outputs are not kept)."""
        self.accepted.update(other.accepted)
        self.rejected.update(other.rejected)
        self.audited.update(other.audited)
        self.dlq.update(other.dlq)
        self.incidents.update(other.incidents)
        self.lookups += other.lookups
        self.misses += other.misses
        self.inventory_misses += other.inventory_misses

    def count(self, m: Metrics, size: int, elapsed: float) -> None:
        """The batch's figures into the process's metrics: ``size`` SRs judged in ``elapsed`` seconds."""
        m.consumed.inc(size)
        for branch, n in self.accepted.items():
            m.accepted.labels(branch).inc(n)
        for (code, reason), n in self.rejected.items():
            m.rejected.labels(code, reason).inc(n)
        for (code, reason), n in self.audited.items():
            m.audited.labels(code, reason).inc(n)
        for error_class, n in self.dlq.items():
            m.dlq.labels(error_class).inc(n)
        for (operator, supplier), n in self.incidents.items():
            m.incidents.labels(operator, supplier).inc(n)
        m.lookups.inc(self.lookups)
        m.lookup_misses.inc(self.misses)
        m.inventory_misses.inc(self.inventory_misses)
        m.batch_seconds.observe(elapsed)
        m.sr_seconds.observe(elapsed, size)  # every SR of the batch waited for all of it


@dataclass(frozen=True)
class LookedUp:
    """A batch's candidates as the DSP's data places them: each one's subject and registration in force."""

    reference: BatchReference
    subjects: list[Subject]
    registrations: list[Registration | None]


class _Dead(Exception):
    """One SR that cannot be judged or sent: it becomes a dead letter with this class and message."""

    def __init__(self, message: str, error_class: str) -> None:
        super().__init__(message)
        self.error_class = error_class


class Judge:
    def __init__(
        self,
        topics: Topics,
        mode: Mode,
        policy: Policy,
        reader: CertificateReader,
        reference: Reference,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        serde: Serde = PLAIN,
        clock: Callable[[], float] = time.time,
        read: SrReader | None = None,
    ) -> None:
        self.topics = topics
        self.mode = mode
        self.policy = policy
        self.reader = reader
        self.reference = reference
        self.max_record_bytes = max_record_bytes  # every output fits: key, value and headers counted
        self.serde = serde  # outputs' encoding (and the input's, unless ``read`` says otherwise)
        self.clock = clock
        self.read = read or avro_reader(serde)

    def __call__(self, inputs: Sequence[Input]) -> BatchResult:
        result = BatchResult()
        slots: list[Output | None] = []  # outputs in input order; None = a candidate decided below
        candidates: list[tuple[int, Input, ServiceRequest]] = []
        for item in inputs:
            try:
                sr = self.read(item)
                slots.append(self._accepted(item, Branch.OUT_OF_SCOPE, result) if sr is None else None)
            except Exception as exc:
                slots.append(self._dead_letter(item, exc, result))
                result.dead.append(True)
                continue
            result.dead.append(False)
            if sr is not None:
                candidates.append((len(slots) - 1, item, sr))
        if candidates:
            self._decide(candidates, slots, result)
        result.outputs[:0] = [s for s in slots if s is not None]
        return result

    def _decide(
        self, candidates: list[tuple[int, Input, ServiceRequest]], slots: list[Output | None], result: BatchResult
    ) -> None:
        # Redis faults propagate from here: the batch is retried, nothing is decided on missing data.
        srs = [sr for _, _, sr in candidates]
        found = self.look_up(srs)
        directory, subjects, registrations = found.reference.directory, found.subjects, found.registrations
        result.inventory_misses += sum(1 for s in subjects if not s.from_inventory)
        result.lookups += sum(1 for s in subjects if s.mpxn)
        result.misses += sum(1 for s, reg in zip(subjects, registrations, strict=True) if s.mpxn and reg is None)
        decided_at = int(self.clock() * 1000)
        extras: list[Output] = []  # audit records (audit mode), DUIS responses (enforce mode)
        for (slot, item, sr), subject, registration in zip(candidates, subjects, registrations, strict=True):
            try:
                decision = self.decide(sr, subject, registration, directory)
                slots[slot], extra = self._judged(item, sr, decision, decided_at, result)
            except Exception as exc:
                slots[slot] = self._dead_letter(item, exc, result)
                result.dead[slot] = True
                continue
            if not decision.accepted:
                supplier = directory.owner(sr.originator_id, sr.as_of)
                operator = decision.registered_network_operator_id or "none"
                result.incidents[(operator, supplier.party_id if supplier else "unknown")] += 1
            if extra is not None:
                extras.append(extra)
        result.outputs.extend(extras)

    def look_up(self, srs: Sequence[ServiceRequest]) -> LookedUp:
        """What the rule needs for these candidates, from one view of the DSP's data (``run`` and ``explain``)."""
        reference = self.reference([(sr.target_device_id, sr.as_of) for sr in srs], {sr.mpxn for sr in srs if sr.mpxn})
        subjects = [subject_of(sr, d, reference.directory) for sr, d in zip(srs, reference.devices, strict=True)]
        registrations = reference.registrations([(s.mpxn, sr.as_of) for sr, s in zip(srs, subjects, strict=True)])
        return LookedUp(reference, subjects, registrations)

    def decide(
        self, sr: ServiceRequest, subject: Subject, registration: Registration | None, directory: PartyDirectory
    ) -> Decision:
        return decide_candidate(sr, subject, registration, directory, self.reader, self.policy)

    def _fitting(self, output: Output) -> Output:
        size = record_size(output.key, output.value, output.headers)
        if size > self.max_record_bytes:
            limit = self.max_record_bytes
            raise _Dead(f"{output.topic} record of {size} bytes exceeds the {limit}-byte limit", ErrorClass.TOO_LARGE)
        return output

    def _accepted(self, item: Input, branch: Branch, result: BatchResult, flag: str | None = None) -> Output:
        headers = [*item.headers, _ACCEPTED]
        if flag:
            headers.append((FLAG_HEADER, flag.encode()))
        output = self._fitting(Output(self.topics.accepted, item.key, item.value, headers, item.timestamp))
        result.accepted[branch] += 1  # a StrEnum member: the same key as its value, without the enum's lookup
        return output

    def _rejection(self, topic: str, item: Input, sr: ServiceRequest, decision: Decision, decided_at: int) -> Output:
        """The rejection record; ``original`` is cut to what fits (the source coordinates name the whole)."""
        assert item.value is not None
        headers = [
            (OUTCOME_HEADER, b"rejected" if topic == self.topics.rejected else b"audit"),
            (ISSUERS_HEADER, b"unchecked" if self.reader.trust_store is None else b"checked"),
        ]
        value = encode_rejection(sr, decision, decided_at, item.source, item.value, self.serde, topic)
        if record_size(item.key, value, headers) > self.max_record_bytes:
            headers.append((ORIGINAL_TRUNCATED_HEADER, str(len(item.value)).encode()))
            excess = record_size(item.key, value, headers) - self.max_record_bytes
            kept = item.value[: max(0, len(item.value) - excess - 16)]  # 16: the length prefix may shrink
            value = encode_rejection(sr, decision, decided_at, item.source, kept, self.serde, topic)
        return self._fitting(Output(topic, item.key, value, headers, item.timestamp))

    def _judged(
        self, item: Input, sr: ServiceRequest, decision: Decision, decided_at: int, result: BatchResult
    ) -> tuple[Output, Output | None]:
        if decision.accepted:
            flag = decision.reason.value if decision.flagged and decision.reason else None
            return self._accepted(item, decision.branch, result, flag), None
        assert decision.code and decision.reason
        label = (decision.code, decision.reason.value)
        if self.mode is Mode.AUDIT:
            audit = self._rejection(self.topics.audit, item, sr, decision, decided_at)
            accepted = self._accepted(item, decision.branch, result)
            result.audited[label] += 1
            return accepted, audit
        rejection = self._rejection(self.topics.rejected, item, sr, decision, decided_at)
        response = response_xml(sr.request_id, decision.code, sr.service_reference_variant, decided_at)
        result.rejected[label] += 1
        return rejection, self._fitting(Output(self.topics.responses, item.key, response, [], item.timestamp))

    def _dead_letter(self, item: Input, exc: Exception, result: BatchResult) -> Output:
        if isinstance(exc, DecodeError | _Dead):
            error_class, message = exc.error_class, str(exc)
        else:  # a fault of srguard's own while judging this SR: kept with its class for the report
            error_class, message = ErrorClass.UNEXPECTED, f"{type(exc).__name__}: {exc}"
        result.dlq[error_class] += 1
        return dead_letter(self.topics.dlq, item, message, error_class, self.max_record_bytes)
