"""`srguard explain`: one SR's decision as a person reads it, for the service desk's disputes.

The decision is made by the judge `run` uses (``Judge.read``, ``Judge.look_up``, ``Judge.decide``): never a
second copy of the rule. Around it, the facts that decided it, read at the SR's time: the device as the
inventory held it, the MPxN's registration in force and the next one, each certificate's entity, owner and
validity, and what would have made the SR pass.

Finding an SR by its RequestID: srguard's rejections and audit records carry it (with the original bytes and
where they came from); accepted SRs are the input's own bytes, searched record by record (a byte search picks
the candidates, the reader confirms).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from processor.avro import Serde
from processor.domain.certificates import parse_certificate
from processor.domain.decision import Branch, Decision, Reason
from processor.domain.identifiers import operator_label
from processor.domain.model import Device, PartyDirectory, Registration, ServiceRequest
from processor.duis.request import NS, read, text_of
from processor.errors import BadInput, DuisError, RecordError
from processor.kafka.records import Input, Source
from processor.stream.judge import Judge
from processor.stream.serde import peek
from processor.times import iso_utc

RECORDED_DEAD = "dead letter"


@dataclass(frozen=True)
class CertificateFacts:
    usage: str
    entity_id: str  # "" when unreadable
    role: str  # the subject OU as written
    not_before: int | None
    not_after: int | None
    issuer: str
    chain: str  # to which trust anchor, or why none
    owners: tuple[str, ...]  # "PARTY (role)" of every party holding the entity at the SR's time


@dataclass(frozen=True)
class Explanation:
    request_id: str
    variant: str
    outcome: str  # accepted | rejected | dead letter
    branch: str
    code: str | None = None
    reason: str | None = None
    detail: str = ""
    would_pass: str = ""
    sr: dict[str, Any] = field(default_factory=dict)  # the SR as judged: originator and role, target, times
    device: dict[str, Any] | None = None  # the inventory's record in force at the SR's time
    registration: dict[str, Any] | None = None  # the MPxN's registration in force, and the next one
    next_registration: dict[str, Any] | None = None
    certificates: list[CertificateFacts] = field(default_factory=list)


def _registration(found: Registration | None) -> dict[str, Any] | None:
    if found is None:
        return None
    operator = found.network_operator_id
    return {
        "mpxn": found.mpxn,
        "network_operator": operator_label(operator) if operator else "none",
        "network_operator_id": operator,
        "supplier_id": found.supplier_id,
        "effective_from": iso_utc(found.effective_from),
    }


def _device(found: Device | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "device_id": found.device_id,
        "device_type": found.device_type.value,
        "mpxns": list(found.mpxns),
        "import_mpxn": found.import_mpxn,
        "status": found.status.value,
        "effective_from": iso_utc(found.effective_from),
    }


def _certificates(sr: ServiceRequest, judge: Judge, directory: PartyDirectory) -> list[CertificateFacts]:
    facts = []
    for certificate in sr.certificates:
        try:
            read = parse_certificate(certificate.der)[0]
        except Exception:  # the decision says why (malformed): here only what can be read
            facts.append(CertificateFacts(certificate.usage.value, "", "", None, None, "", "", ()))
            continue
        if judge.reader.trust_store is None:
            chain = "not checked (no trust store)"
        else:
            try:
                judge.reader.read(certificate.der)
                chain = f"signed by trust anchor {read.issuer}"
            except RecordError:
                chain = "signed by no trust anchor in the trust store"
        holders = directory.holders(read.entity_id, sr.as_of)
        owners = tuple(f"{operator_label(p.party_id)} ({p.role})" for p in holders)
        facts.append(
            CertificateFacts(
                certificate.usage.value, read.entity_id, read.role_code, read.not_before, read.not_after,
                read.issuer, chain, owners,
            )
        )  # fmt: skip
    return facts


def would_pass(decision: Decision, at: int) -> str:
    """What the DSP's data or the SR would have had to say for the SR to pass: the rejection read backwards."""
    when = iso_utc(at)
    registered = decision.registered_network_operator_id
    owners = sorted({operator_label(p) for p in decision.certificate_party_ids if p})
    mpxn = decision.mpxn or "its MPxN"
    templates: dict[Reason, str] = {
        Reason.FOREIGN_NETWORK_OPERATOR: (
            f"the registered NO for {mpxn} on {when} was {operator_label(registered or '')}; these certificates "
            f"belong to {', '.join(owners) or 'another party'}: the SR passes with the registered NO's "
            "certificates, or once the registration in force then names their owner"
        ),
        Reason.NO_REGISTRATION: (
            f"no NO was registered for {mpxn} on {when}: a registration in force then naming "
            f"{', '.join(owners) or 'the certificates owner'} lets it pass"
        ),
        Reason.REGISTERED_NETWORK_OPERATOR_HAS_NO_CREDENTIALS: (
            f"the registered NO {operator_label(registered or '')} held no SMKI credentials on {when}: the party "
            "directory must list its certificates' entities"
        ),
        Reason.UNKNOWN_ENTITY: f"the party directory must name who held each certificate's entity on {when}",
        Reason.AMBIGUOUS_CERTIFICATE_OWNER: f"one party, not two, must hold each certificate's entity on {when}",
        Reason.CERTIFICATE_NOT_VALID_AT_SR_TIME: f"certificates valid on {when}",
        Reason.NOT_NETWORK_OPERATOR_CERTIFICATE: "certificates of the Network Operator role (subject OU 03)",
        Reason.UNTRUSTED_ISSUER: "certificates signed by an SMKI Organisation CA in srguard's trust store",
        Reason.MALFORMED_CERTIFICATE: "certificates that can be read as SMKI certificates",
        Reason.MISSING_REMOTE_PARTY_ROLE: "a RemotePartyRole in the request",
        Reason.UNKNOWN_ORIGINATOR: f"an originator the party directory holds on {when}",
        Reason.UNKNOWN_DEVICE: f"a target device the inventory holds on {when}",
        Reason.REQUEST_CONTRADICTS_INVENTORY: "a device type and MPxN in the request that agree with the inventory",
        Reason.REQUEST_CONTRADICTS_PARTY_DIRECTORY: "a user role in the request that agrees with the party directory",
        Reason.INVENTORY_NAMES_NO_IMPORT_MPXN: "an import MPxN in the device's inventory record",
        Reason.FUEL_MISMATCH: "an MPxN of the device's own fuel",
        Reason.NO_MPXN: "an MPxN for the device in the inventory",
    }
    return templates.get(decision.reason, "") if decision.reason else ""


def explain(judge: Judge, next_of: Callable[[str, int], Registration | None], item: Input) -> Explanation:
    """``item`` judged as `run` judges it, and the facts around the decision. ``next_of(mpxn, at)``: the
    registration that followed the one in force at ``at`` (None: none followed)."""
    try:
        sr = judge.read(item)
    except Exception as exc:  # run sends what it cannot read to the DLQ: so does this
        return Explanation("", "", RECORDED_DEAD, "", detail=str(exc))
    if sr is None:
        request_id, variant = _identity(item, judge)
        unchecked = "not an SR SECMP0063 checks"
        return Explanation(request_id, variant, "accepted", Branch.OUT_OF_SCOPE.value, detail=unchecked)
    found = judge.look_up([sr])
    subject, registration, directory = found.subjects[0], found.registrations[0], found.reference.directory
    facts = {
        "originator_id": sr.originator_id,
        "originator": operator_label(directory.party_of(sr.originator_id, sr.as_of) or "unknown"),
        "user_role": subject.user_role.value if subject.user_role else "unknown",
        "target_device_id": sr.target_device_id,
        "device_type": subject.device_type.value if subject.device_type else "unknown",
        "mpxn": subject.mpxn,
        "remote_party_role": sr.remote_party_role.value if sr.remote_party_role else None,
        "submitted_at": iso_utc(sr.submitted_at),
        "execution_datetime": iso_utc(sr.execution_datetime) if sr.execution_datetime else None,
        "as_of": iso_utc(sr.as_of),
    }
    common: dict[str, Any] = {
        "sr": facts,
        "device": _device(found.reference.devices[0]),
        "registration": _registration(registration),
        "next_registration": _registration(next_of(subject.mpxn, sr.as_of) if subject.mpxn else None),
        "certificates": _certificates(sr, judge, directory),
    }
    try:
        decision = judge.decide(sr, subject, registration, directory)
    except Exception as exc:  # as run: a fault deciding one SR makes it a dead letter
        return Explanation(sr.request_id, sr.service_reference_variant, RECORDED_DEAD, "", detail=str(exc), **common)
    return Explanation(
        sr.request_id,
        sr.service_reference_variant,
        decision.outcome.value,
        decision.branch.value,
        decision.code,
        decision.reason.value if decision.reason else None,
        decision.detail,
        would_pass(decision, sr.as_of),
        **common,
    )


def is_xml(data: bytes) -> bool:
    """A document that starts as XML does (after blanks or a UTF-8 BOM): a DUIS Request, not Avro."""
    return data.lstrip()[:1] == b"<" or data[:3] == b"\xef\xbb\xbf"


def _identity(item: Input, judge: Judge) -> tuple[str, str]:
    """An out-of-scope SR's RequestID and variant, as its reader reads them (the judge decodes no more)."""
    value = item.value or b""
    try:
        if is_xml(value):
            return duis_request_id(value), read(value).variant
        head = peek(judge.serde.avro_body(value))
        return head.request_id, head.variant
    except RecordError:
        return "", ""


def following(history: list[Registration], at: int) -> Registration | None:
    """The first registration that took effect after ``at``."""
    return min((r for r in history if r.effective_from > at), key=lambda r: r.effective_from, default=None)


def input_from_file(data: bytes, received_at: int) -> Input:
    if not data.strip():
        raise BadInput("the file is empty: give a DUIS Request (XML) or one Avro ServiceRequest")
    return Input(None, data, [], Source("file", 0, 0), received_at)


def matches(request_id: str, duis: bool, serde: Serde) -> Callable[[bytes], bool]:
    """Whether a record is the SR ``request_id``: a byte search picks the candidates, the id as the record's
    reader reads it decides ("A:B:1" is in "A:B:10" too). A record no reader can read (a dead letter) matches
    when the id stands delimited as a DUIS RequestID element's text."""
    wanted = request_id.encode()
    delimited = b">" + wanted + b"<"

    def exact(value: bytes) -> bool:
        if wanted not in value:
            return False
        try:
            found = duis_request_id(value) if duis else peek(serde.avro_body(value)).request_id
        except RecordError:
            return delimited in value
        return found == request_id

    return exact


def duis_request_id(document: bytes) -> str:
    found = read(document).header.find(f"{NS}RequestID")
    if found is None:
        raise DuisError("not a DUIS Request: its Header has no RequestID")
    return text_of(found)
