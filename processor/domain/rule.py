"""The SECMP0063 rule: one pure function from a Service Request and the reference data to a Decision.

No I/O. The caller looks up the device inventory record in force at ``sr.as_of``, makes the SR's
``Subject`` from it (``subject_of``: the originator's role, the device's type and MPxN, as the DSP
knows them), looks up the registration in force for the subject's MPxN and hands in the party
directory; certificate parsing is deterministic and cached, so it counts as pure here.

Order of checks for an SR 6.15.1 or 6.21 placing NO certificates:
1. the subject: a Supplier originator and a target type in scope (else untouched); a known
   originator, a known device whose inventory record agrees with what the SR says of it, a meter
   point of the device's fuel (ESME - MPAN, GPF - MPRN);
2. each certificate on its own: readable SMKI certificate, trusted issuer (when a trust store is
   configured), Remote Party Role = network operator (OU 03), entity known to the party directory;
3. a Network Operator registered for the MPxN at the SR's time;
4. each certificate's owner is that Network Operator.
Faults of step 2 are certain whatever registration says, so they win over a missing registration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypedDict

from processor.domain.certificates import CertificateReader
from processor.domain.decision import (
    CODES,
    DEFAULT_POLICY,
    SR_REQUEST_HANDOVER,
    SR_UPDATE_SECURITY_CREDENTIALS,
    Branch,
    Decision,
    MissingRegistration,
    Outcome,
    Policy,
    Reason,
)
from processor.domain.identifiers import Fuel, fuel_of
from processor.domain.model import (
    NETWORK_OPERATOR_ROLES,
    SUPPLIER_ROLES,
    Device,
    DeviceType,
    PartyDirectory,
    Registration,
    RemotePartyRole,
    ServiceRequest,
)
from processor.domain.subject import FUEL_OF_DEVICE, Subject, subject_of
from processor.errors import CertificateError, InvalidIdentifier
from processor.times import iso_utc

_IN_SCOPE_TARGETS = {
    SR_UPDATE_SECURITY_CREDENTIALS: frozenset({DeviceType.ESME}),
    SR_REQUEST_HANDOVER: frozenset({DeviceType.ESME, DeviceType.GPF}),
}
CANDIDATE_VARIANTS = frozenset(_IN_SCOPE_TARGETS)


_SEVERITY = {
    reason: rank
    for rank, reason in enumerate(
        [
            Reason.MALFORMED_CERTIFICATE,
            Reason.UNTRUSTED_ISSUER,
            Reason.CERTIFICATE_NOT_VALID_AT_SR_TIME,
            Reason.NOT_NETWORK_OPERATOR_CERTIFICATE,
            Reason.UNKNOWN_ENTITY,
            Reason.AMBIGUOUS_CERTIFICATE_OWNER,
        ]
    )
}


def is_exempt(variant: str, user_role: str | None) -> bool:
    """An SR 6.15.1 sent by a Network Operator itself: never blocked (SECMP0063)."""
    return variant == SR_UPDATE_SECURITY_CREDENTIALS and user_role in NETWORK_OPERATOR_ROLES


def is_candidate(variant: str, user_role: str | None = None) -> bool:
    """Whether an SR can need more than a pass-through: the cheap test made before decoding it.

    The target's type is not part of it: the device inventory, looked up for candidates only, is its
    authority. An unknown role (a DUIS SR, whose originator's role is in the party directory) is a
    candidate for the same reason."""
    if variant not in _IN_SCOPE_TARGETS:
        return False
    return user_role is None or user_role in SUPPLIER_ROLES or is_exempt(variant, user_role)


def is_target(variant: str, device_type: str | None) -> bool:
    """Whether SECMP0063 protects this kind of device against this SR (ESME for 6.15.1; ESME, GPF for 6.21)."""
    return device_type in _IN_SCOPE_TARGETS.get(variant, ())


def _fuel_fault(subject: Subject, registration: Registration | None) -> str | None:
    """Why the subject's meter point is not of its device's fuel (ESME - MPAN, GPF - MPRN), or None."""
    if subject.mpxn is None or subject.device_type is None:
        return None
    expected = FUEL_OF_DEVICE[subject.device_type]
    try:
        fuel = fuel_of(subject.mpxn)
    except InvalidIdentifier:
        return f"{subject.mpxn} is neither an MPAN core nor an MPRN"
    if fuel is not expected:
        wanted = "an MPAN" if expected is Fuel.ELECTRICITY else "an MPRN"
        return f"a {subject.device_type} serves {wanted}, not {fuel.value.lower()} meter point {subject.mpxn}"
    if registration is not None and registration.fuel is not expected:
        held = registration.fuel.value.lower()
        return f"registration holds {subject.mpxn} as {held}; a {subject.device_type} is {expected.value.lower()}"
    return None


@dataclass(frozen=True, slots=True)
class _Checked:
    entity_id: str
    party_id: str
    fault: Reason | None
    detail: str


def _check_certificate(
    der: bytes, at: int, check_validity: bool, directory: PartyDirectory, reader: CertificateReader
) -> _Checked:
    try:
        cert = reader.read(der)
    except CertificateError as exc:
        return _Checked("", "", Reason(exc.reason), exc.detail)
    if check_validity and not cert.not_before <= at <= cert.not_after:
        detail = (
            f"certificate of {cert.entity_id} is valid from {iso_utc(cert.not_before)} to "
            f"{iso_utc(cert.not_after)}, not at the SR's time {iso_utc(at)} (ApplyTimeBasedCPVChecks)"
        )
        return _Checked(cert.entity_id, "", Reason.CERTIFICATE_NOT_VALID_AT_SR_TIME, detail)
    holders = directory.holders(cert.entity_id, at)
    parties = sorted({p.party_id for p in holders})
    owner = directory.owner(cert.entity_id, at)
    party_id = owner.party_id if owner else ""
    if not cert.is_network_operator:
        return _Checked(
            cert.entity_id,
            party_id,
            Reason.NOT_NETWORK_OPERATOR_CERTIFICATE,
            f"certificate of {cert.entity_id} has Remote Party Role {cert.role_code}, not 03 (NO)",
        )
    if len(parties) > 1:  # the directory must not allow this; never decide by the holders' order
        names = ", ".join(parties)
        detail = f"entity {cert.entity_id} is held by {names} at once"
        return _Checked(cert.entity_id, "", Reason.AMBIGUOUS_CERTIFICATE_OWNER, detail)
    if owner is None:
        return _Checked(
            cert.entity_id, "", Reason.UNKNOWN_ENTITY, f"no party in the directory holds entity {cert.entity_id}"
        )
    return _Checked(cert.entity_id, party_id, None, "")


class _Evidence(TypedDict):
    """What a decision on a NetworkOperator SR records, whatever its outcome."""

    registered_network_operator_id: str | None
    certificate_entity_ids: tuple[str, ...]
    certificate_party_ids: tuple[str, ...]


def decide(
    sr: ServiceRequest,
    registration: Registration | None,
    directory: PartyDirectory,
    reader: CertificateReader,
    policy: Policy = DEFAULT_POLICY,
    device: Device | None = None,
) -> Decision:
    """Judge one SR. ``device`` is its target's inventory record in force at ``sr.as_of`` (None: not in
    the inventory); ``registration`` the record in force then for the subject's MPxN."""
    if not is_candidate(sr.service_reference_variant, sr.user_role):
        return Decision(Outcome.ACCEPTED, Branch.OUT_OF_SCOPE, sr.as_of)
    return decide_candidate(sr, subject_of(sr, device, directory), registration, directory, reader, policy)


def decide_candidate(
    sr: ServiceRequest,
    subject: Subject,
    registration: Registration | None,
    directory: PartyDirectory,
    reader: CertificateReader,
    policy: Policy = DEFAULT_POLICY,
) -> Decision:
    """``decide`` for an SR already known to be a candidate (``is_candidate``): the scope test is not repeated."""
    decision = _judge(sr, subject, registration, directory, reader, policy)
    return replace(
        decision,
        user_role=subject.user_role.value if subject.user_role else "",
        device_type=subject.device_type.value if subject.device_type else "",
        mpxn=subject.mpxn,
    )


def _judge(
    sr: ServiceRequest,
    subject: Subject,
    registration: Registration | None,
    directory: PartyDirectory,
    reader: CertificateReader,
    policy: Policy,
) -> Decision:
    at = sr.as_of
    variant = sr.service_reference_variant
    role = subject.user_role
    if sr.is_cancellation:  # places nothing: the certificates it repeats are those of the SR it withdraws
        return Decision(
            Outcome.ACCEPTED,
            Branch.OUT_OF_SCOPE,
            at,
            detail="cancels pending future-dated SRs (ExecutionDateTime 3000-12-31T00:00:00Z): places nothing",
        )
    if is_exempt(variant, role):
        return Decision(
            Outcome.ACCEPTED,
            Branch.EXEMPT_NETWORK_OPERATOR,
            at,
            detail=f"SR 6.15.1 sent by a Network Operator ({role}) is never blocked",
        )
    if role is not None and role not in SUPPLIER_ROLES:
        return Decision(Outcome.ACCEPTED, Branch.OUT_OF_SCOPE, at)
    if subject.device_type is not None and not is_target(variant, subject.device_type):
        return Decision(Outcome.ACCEPTED, Branch.OUT_OF_SCOPE, at)  # the inventory's type wins over the SR's
    codes = CODES[variant]
    if sr.remote_party_role is None:  # mandatory in DUIS for both SRs: broken input never passes unchecked
        return Decision(
            Outcome.REJECTED,
            Branch.CERTIFICATE_FAULT,
            at,
            codes.foreign_certificate,
            Reason.MISSING_REMOTE_PARTY_ROLE,
            "RemotePartyRole is missing: the certificates' cells cannot be known, so they are not let through",
        )
    if sr.remote_party_role is not RemotePartyRole.NETWORK_OPERATOR:
        return Decision(Outcome.ACCEPTED, Branch.NO_NETWORK_OPERATOR_CERTIFICATES, at)
    if role is None:
        detail = f"originator {sr.originator_id} holds no entry in the party directory at {at} ms: its role is unknown"
        return Decision(
            Outcome.REJECTED, Branch.SUBJECT_FAULT, at, codes.subject_fault, Reason.UNKNOWN_ORIGINATOR, detail
        )
    if subject.fault is not None:
        reason, detail = subject.fault
        return Decision(Outcome.REJECTED, Branch.SUBJECT_FAULT, at, codes.subject_fault, reason, detail)
    fuel_fault = _fuel_fault(subject, registration)
    if fuel_fault is not None:
        return Decision(
            Outcome.REJECTED, Branch.SUBJECT_FAULT, at, codes.subject_fault, Reason.FUEL_MISMATCH, fuel_fault
        )

    registered = registration.network_operator_id if registration else None
    validity = sr.apply_time_based_cpv_checks
    checked = [_check_certificate(c.der, at, validity, directory, reader) for c in sr.certificates]
    evidence: _Evidence = {
        "registered_network_operator_id": registered,
        "certificate_entity_ids": tuple(c.entity_id for c in checked),
        "certificate_party_ids": tuple(c.party_id for c in checked),
    }
    if not checked:
        return Decision(
            Outcome.REJECTED,
            Branch.CERTIFICATE_FAULT,
            at,
            codes.foreign_certificate,
            Reason.MALFORMED_CERTIFICATE,
            "NetworkOperator role but no certificate supplied",
            **evidence,
        )
    faults = [c for c in checked if c.fault is not None]
    if faults:  # the worst fault, ties broken by entity and detail: never by the certificates' order
        worst = min(faults, key=lambda c: (_SEVERITY[c.fault], c.entity_id, c.detail))  # type: ignore[index]
        return Decision(
            Outcome.REJECTED,
            Branch.CERTIFICATE_FAULT,
            at,
            codes.foreign_certificate,
            worst.fault,
            worst.detail,
            **evidence,
        )

    if registered is None:
        reason = Reason.NO_MPXN if not subject.mpxn else Reason.NO_REGISTRATION
        detail = (
            "the SR names no MPxN"
            if not subject.mpxn
            else f"no Network Operator registered for {subject.mpxn} at {at} ms"
        )
        if policy.on_missing_registration is MissingRegistration.ACCEPT:
            return Decision(
                Outcome.ACCEPTED, Branch.MISSING_REGISTRATION, at, None, reason, detail, flagged=True, **evidence
            )
        return Decision(
            Outcome.REJECTED, Branch.MISSING_REGISTRATION, at, codes.missing_registration, reason, detail, **evidence
        )

    foreign = sorted((c for c in checked if c.party_id != registered), key=lambda c: c.entity_id)
    if foreign:
        first = foreign[0]
        if not directory.has_credentials(registered, at):
            # Some IDNOs never created SMKI credentials: no Supplier could place the right certificates.
            return Decision(
                Outcome.REJECTED,
                Branch.FOREIGN_OWNER,
                at,
                codes.foreign_certificate,
                Reason.REGISTERED_NETWORK_OPERATOR_HAS_NO_CREDENTIALS,
                f"{subject.mpxn} is registered to {registered}, which holds no SMKI credentials in the party directory "
                f"at {at} ms (certificate of {first.entity_id} belongs to {first.party_id})",
                **evidence,
            )
        return Decision(
            Outcome.REJECTED,
            Branch.FOREIGN_OWNER,
            at,
            codes.foreign_certificate,
            Reason.FOREIGN_NETWORK_OPERATOR,
            f"certificate of {first.entity_id} belongs to {first.party_id}, "
            f"but {subject.mpxn} is registered to {registered}",
            **evidence,
        )
    return Decision(Outcome.ACCEPTED, Branch.REGISTERED_OWNER, at, **evidence)
