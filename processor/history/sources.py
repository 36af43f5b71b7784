"""Where the report's records come from: a rejection/audit topic or archive, and the in-scope denominator."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from processor.avro import Serde
from processor.domain.certificates import CertificateReader
from processor.domain.model import Device, PartyDirectory, RemotePartyRole, ServiceRequest
from processor.domain.rule import CANDIDATE_VARIANTS, is_candidate, is_exempt, is_target
from processor.domain.subject import subject_of
from processor.duis.request import candidate as duis_candidate
from processor.errors import BadInput, CertificateError, DecodeError
from processor.history.archive import read_archive
from processor.history.stats import NONE_REGISTERED, UNKNOWN_OWNER, Scope, sr_time
from processor.kafka.reading import read_history
from processor.names import ISSUERS_HEADER, OUTCOME_HEADER, Schema
from processor.stream.serde import candidate, in_scope

PartyOf = Callable[[str, int], str | None]


def checked_by_secmp0063(
    variant: str, user_role: str | None, device_type: str | None, remote_party_role: str | None
) -> bool:
    """The SRs whose NO certificates the rule checks: the denominator of the incidence rate."""
    if is_exempt(variant, user_role) or not (is_candidate(variant, user_role) and is_target(variant, device_type)):
        return False
    # a missing RemotePartyRole is checked (and rejected) too
    return remote_party_role in (RemotePartyRole.NETWORK_OPERATOR, None)


def in_window(at: int, since: int | None, until: int | None) -> bool:
    return (since is None or at >= since) and (until is None or at < until)


@dataclass
class Recorded:
    """What srguard wrote on each rejection record it read: the outcome header (the mode it was decided in) and
    whether certificate issuers were checked ("" where the record has no such header)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    issuers: Counter[str] = field(default_factory=Counter)

    def count(self, headers: list[tuple[str, bytes]]) -> None:
        found = dict(headers)
        self.outcomes[(found.get(OUTCOME_HEADER) or b"").decode("ascii", "replace")] += 1
        self.issuers[(found.get(ISSUERS_HEADER) or b"").decode("ascii", "replace")] += 1


def rejections_from_topic(
    kafka_config: dict[str, Any],
    topic: str,
    serde: Serde,
    since: int | None = None,
    until: int | None = None,
    recorded: Recorded | None = None,
) -> Iterator[dict[str, Any]]:
    """The topic's records whose timestamp (the SR's time: outputs carry their input's) is in the window;
    ``recorded`` counts the headers srguard wrote on each (Recorded)."""
    for batch in read_history(kafka_config, topic, since, until):
        for msg in batch:
            if recorded is not None:
                recorded.count(msg.headers() or [])  # type: ignore[arg-type]
            try:
                yield serde.decode(Schema.SR_REJECTION, msg.value() or b"", topic)
            except DecodeError as exc:
                raise DecodeError(
                    f"{topic} partition {msg.partition()}@{msg.offset()} is not an SrRejection record ({exc}): "
                    "--topic takes a rejected or audit topic; if its producers use a schema registry, set "
                    "SRGUARD_SCHEMA_REGISTRY_URL"
                ) from exc


def recorded_mode(outcomes: Counter[str]) -> str:
    """The mode the rejections were decided in, as srguard recorded it on each (never guessed from a name)."""
    modes = sorted({"audit" if o == "audit" else "enforce" if o == "rejected" else "unrecorded" for o in outcomes})
    if not modes:
        return "as recorded (an archive keeps no srguard-outcome header)"
    return " and ".join(modes) if modes != ["unrecorded"] else "unrecorded (no srguard-outcome header)"


def recorded_issuers(issuers: Counter[str]) -> str:
    """Whether the incidents' certificate issuers were checked against a trust store, as srguard recorded it."""
    if not issuers:
        return "unrecorded (an archive keeps no srguard-issuers header)"
    said = {"checked": "checked against the trust store", "unchecked": "NOT checked (no trust store)"}
    parts = [f"{said.get(k, 'unrecorded')} for {n:,}" for k, n in sorted(issuers.items())]
    if len(parts) == 1:
        return parts[0].rsplit(" for ", 1)[0] + (" (no srguard-issuers header)" if "" in issuers else "")
    return "; ".join(parts) + " incidents"


def rejections_from_archive(path: Path, since: int | None = None, until: int | None = None) -> Iterator[dict[str, Any]]:
    name, records = read_archive(path)
    if name != Schema.SR_REJECTION:
        raise BadInput(f"{path} holds {name or 'unknown'} records, not SrRejection")
    return (r for r in records if in_window(sr_time(r), since, until))


# (variant, originator, user role, device type, remote party role, as_of, submitted_at, MPxN) of one SR read
# variant, originator, user role, device type, RemotePartyRole, as_of, submitted_at, MPxN, the certificates' DER
ScopeFields = tuple[str, str, str | None, str | None, str | None, int, int, str | None, tuple[bytes, ...]]
# (MPxN, at) -> the registered NO's market id (None: none registered), for a batch of SRs
RegisteredOf = Callable[[Sequence[tuple[str | None, int]]], list[str | None]]
LOOKUP_BATCH = 1000
# A batch of DUIS SRs -> each with its role, device type and MPxN from the DSP's data (a DUIS SR names none of
# them: the party directory and the device inventory do, as when srguard judged it)
Subjects = Callable[[list[ServiceRequest]], list[ServiceRequest]]


def subjects_from(
    devices: Callable[[list[tuple[str, int]]], list[Device | None]], directory: PartyDirectory
) -> Subjects:
    def resolve(srs: list[ServiceRequest]) -> list[ServiceRequest]:
        found = devices([(sr.target_device_id, sr.as_of) for sr in srs])
        resolved = []
        for sr, device in zip(srs, found, strict=True):
            subject = subject_of(sr, device, directory)
            resolved.append(
                replace(sr, user_role=subject.user_role, target_device_type=subject.device_type, mpxn=subject.mpxn)
            )
        return resolved

    return resolve


def duis_requests(
    documents: Iterable[tuple[bytes | None, int]], scope: Scope, subjects: Subjects
) -> Iterator[ServiceRequest]:
    """The candidate SRs of DUIS documents (with their receipt times), resolved in batches: out-of-scope ones
    only counted as read, unreadable ones skipped (srguard sent them to the DLQ)."""
    pending: list[ServiceRequest] = []
    for document, received_at in documents:
        try:
            sr = duis_candidate(document, received_at, CANDIDATE_VARIANTS.__contains__)
        except DecodeError:
            continue
        if sr is None:
            scope.read += 1
            continue
        pending.append(sr)
        if len(pending) >= LOOKUP_BATCH:
            yield from subjects(pending)
            pending = []
    if pending:
        yield from subjects(pending)


def sr_fields(sr: ServiceRequest) -> ScopeFields:
    return (
        sr.service_reference_variant,
        sr.originator_id,
        sr.user_role,
        sr.target_device_type,
        sr.remote_party_role,
        sr.as_of,
        sr.submitted_at,
        sr.mpxn,
        tuple(c.der for c in sr.certificates),
    )


def count_scope(
    scope: Scope, srs: Iterable[ScopeFields], party_of: PartyOf, registered_of: RegisteredOf | None = None
) -> Scope:
    """Count each SR read, and the in-scope ones by supplier, SR variant and device type, day, the owners of
    the certificates they place and (with ``registered_of``, looked up in batches) the NO registered for the SR's
    MPxN at its time."""
    pending: list[ScopeFields] = []
    reader = CertificateReader()  # owners by entity: an unreadable certificate's owner is "(unknown)"

    def owners(certificates: tuple[bytes, ...], at: int) -> set[str]:
        found = set()
        for der in certificates:
            try:
                found.add(party_of(reader.read(der).entity_id, at) or UNKNOWN_OWNER)
            except CertificateError:
                found.add(UNKNOWN_OWNER)
        return found or {UNKNOWN_OWNER}

    def flush() -> None:
        operators = registered_of([(f[7], f[5]) for f in pending]) if registered_of else [None] * len(pending)
        for fields, operator in zip(pending, operators, strict=True):
            variant, originator, _, device, _, as_of, submitted, _, certificates = fields
            registered = (operator or NONE_REGISTERED) if registered_of else None
            supplier = party_of(originator, as_of) or originator
            scope.add(supplier, variant, device, submitted, registered, owners(certificates, as_of))
        pending.clear()

    for fields in srs:
        scope.read += 1
        if checked_by_secmp0063(fields[0], fields[2], fields[3], fields[4]):
            pending.append(fields)
            if len(pending) >= LOOKUP_BATCH:
                flush()
    flush()
    return scope


def scope_from_topic(
    kafka_config: dict[str, Any],
    topic: str,
    serde: Serde,
    party_of: PartyOf,
    since: int | None = None,
    until: int | None = None,
    registered_of: RegisteredOf | None = None,
    subjects: Subjects | None = None,
) -> Scope:
    """The in-scope SRs of an SR topic; with ``subjects``, a topic of DUIS XML."""
    scope = Scope()
    srs = requests_from_topic(kafka_config, topic, serde, scope, since, until, subjects)
    return count_scope(scope, map(sr_fields, srs), party_of, registered_of)


def requests_from_topic(
    kafka_config: dict[str, Any],
    topic: str,
    serde: Serde,
    scope: Scope,
    since: int | None = None,
    until: int | None = None,
    subjects: Subjects | None = None,
) -> Iterator[ServiceRequest]:
    """The candidate SRs (6.15.1, 6.21) of an SR topic in the window, DUIS ones (with ``subjects``) resolved;
    the others counted in ``scope.read``, unreadable ones skipped (srguard sent them to the DLQ)."""
    if subjects is not None:
        documents = ((m.value(), m.timestamp()[1]) for b in read_history(kafka_config, topic, since, until) for m in b)
        yield from duis_requests(documents, scope, subjects)
        return
    for batch in read_history(kafka_config, topic, since, until):
        for msg in batch:
            try:
                sr = candidate(msg.value(), in_scope, serde, topic)
            except DecodeError:
                continue
            if sr is None:
                scope.read += 1
                continue
            yield sr


def scope_from_archive(
    path: Path,
    party_of: PartyOf,
    since: int | None = None,
    until: int | None = None,
    registered_of: RegisteredOf | None = None,
    subjects: Subjects | None = None,
) -> Scope:
    name, records = read_archive(path)
    if name == Schema.DUIS_REQUEST:
        if subjects is None:
            raise BadInput(f"{path} holds DUIS documents: their scope needs the device inventory in Redis")
        scope = Scope()
        documents = ((r["document"], r["received_at"]) for r in records if in_window(r["received_at"], since, until))
        return count_scope(scope, map(sr_fields, duis_requests(documents, scope, subjects)), party_of, registered_of)
    if name != Schema.SERVICE_REQUEST:
        raise BadInput(f"{path} holds {name or 'unknown'} records, not ServiceRequest or DuisRequest")
    fields = (
        (
            r["service_reference_variant"],
            r["originator_id"],
            r["user_role"],
            r["target_device_type"],
            r["remote_party_role"],
            max(r["submitted_at"], r["execution_datetime"] or 0),  # as_of: a future-dated SR's execution time
            r["submitted_at"],
            r["mpxn"],
            tuple(c["der"] for c in r["certificates"]),
        )
        for r in records
        if in_window(r["submitted_at"], since, until)
    )
    return count_scope(Scope(), fields, party_of, registered_of)


def rejections_and_scope(
    kafka_config: dict[str, Any],
    serde: Serde,
    rejections: str | Path,
    requests: str | Path | None,
    party_of: PartyOf,
    since: int | None = None,
    until: int | None = None,
    registered_of: RegisteredOf | None = None,
    recorded: Recorded | None = None,
    subjects: Subjects | None = None,
) -> tuple[Iterator[dict[str, Any]], Scope | None]:
    """The report's two inputs, each a topic (by name) or an archive (a path), in the window: the rejection
    records (a topic's headers counted in ``recorded``), and the in-scope SRs (None without a requests
    source)."""
    records = (
        rejections_from_archive(rejections, since, until)
        if isinstance(rejections, Path)
        else rejections_from_topic(kafka_config, rejections, serde, since, until, recorded)
    )
    if requests is None:
        return records, None
    if isinstance(requests, Path):
        return records, scope_from_archive(requests, party_of, since, until, registered_of, subjects)
    return records, scope_from_topic(kafka_config, requests, serde, party_of, since, until, registered_of, subjects)
