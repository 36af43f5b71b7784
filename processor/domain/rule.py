"""The SECMP0063 rule: one pure function from a Service Request and the reference data to a Decision.

No I/O. The caller looks up the registration in force at ``sr.as_of`` and hands in the party
directory; certificate parsing is deterministic and cached, so it counts as pure here.

Order of checks for an in-scope SR placing NO certificates:
1. each certificate on its own: readable SMKI certificate, trusted issuer (when a trust store is
   configured), Remote Party Role = network operator (OU 03), entity known to the party directory;
2. a Network Operator registered for the SR's MPxN at the SR's time;
3. each certificate's owner is that Network Operator.
Faults of step 1 are certain whatever registration says, so they win over a missing registration.

SECMP0063 was withdrawn, so DUIS defines no response code for this check. The codes below are this
project's own, following DUIS's ``E`` + SR as four digits + two-digit sequence pattern, after the
highest codes DUIS v5.4 uses for these SRs (E061509, E062105).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypedDict

from processor.domain.certificates import MALFORMED, UNTRUSTED, CertificateError, CertificateReader
from processor.domain.model import (
    NETWORK_OPERATOR_ROLES,
    SUPPLIER_ROLES,
    DeviceType,
    PartyDirectory,
    Registration,
    RemotePartyRole,
    ServiceRequest,
)

SR_UPDATE_SECURITY_CREDENTIALS = "6.15.1"
SR_REQUEST_HANDOVER = "6.21"
_IN_SCOPE_TARGETS = {
    SR_UPDATE_SECURITY_CREDENTIALS: frozenset({DeviceType.ESME}),
    SR_REQUEST_HANDOVER: frozenset({DeviceType.ESME, DeviceType.GPF}),
}
CANDIDATE_VARIANTS = frozenset(_IN_SCOPE_TARGETS)

# Response codes: (certificate not the registered NO's, no NO registration) per SR variant.
CODES = {
    SR_UPDATE_SECURITY_CREDENTIALS: ("E061510", "E061511"),
    SR_REQUEST_HANDOVER: ("E062106", "E062107"),
}


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Reason(StrEnum):
    """Machine-readable reject reasons (most severe first within the certificate checks)."""

    MISSING_REMOTE_PARTY_ROLE = "missing_remote_party_role"
    MALFORMED_CERTIFICATE = MALFORMED
    UNTRUSTED_ISSUER = UNTRUSTED
    NOT_NETWORK_OPERATOR_CERTIFICATE = "not_network_operator_certificate"
    UNKNOWN_ENTITY = "unknown_entity"
    AMBIGUOUS_CERTIFICATE_OWNER = "ambiguous_certificate_owner"
    FOREIGN_NETWORK_OPERATOR = "foreign_network_operator"
    REGISTERED_NETWORK_OPERATOR_HAS_NO_CREDENTIALS = "registered_network_operator_has_no_credentials"
    NO_REGISTRATION = "no_registration"
    NO_MPXN = "no_mpxn"


_SEVERITY = {
    reason: rank
    for rank, reason in enumerate(
        [
            Reason.MALFORMED_CERTIFICATE,
            Reason.UNTRUSTED_ISSUER,
            Reason.NOT_NETWORK_OPERATOR_CERTIFICATE,
            Reason.UNKNOWN_ENTITY,
            Reason.AMBIGUOUS_CERTIFICATE_OWNER,
        ]
    )
}


class Branch(StrEnum):
    """Which part of the rule decided: the statistics report counts these."""

    OUT_OF_SCOPE = "out_of_scope"
    EXEMPT_NETWORK_OPERATOR = "exempt_network_operator"
    NO_NETWORK_OPERATOR_CERTIFICATES = "no_network_operator_certificates"
    CERTIFICATE_FAULT = "certificate_fault"
    MISSING_REGISTRATION = "missing_registration"
    FOREIGN_OWNER = "foreign_owner"
    REGISTERED_OWNER = "registered_owner"


class MissingRegistration(StrEnum):
    REJECT = "reject"
    ACCEPT = "accept"


@dataclass(frozen=True, slots=True)
class Policy:
    on_missing_registration: MissingRegistration = MissingRegistration.REJECT


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    branch: Branch
    as_of: int
    code: str | None = None
    reason: Reason | None = None
    detail: str = ""
    registered_network_operator_id: str | None = None
    certificate_entity_ids: tuple[str, ...] = ()  # aligned with the SR's certificates; "" = unreadable
    certificate_party_ids: tuple[str, ...] = ()  # aligned likewise; "" = no party holds the entity
    flagged: bool = False  # accepted, but only because policy accepts a missing registration

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


def is_exempt(variant: str, user_role: str) -> bool:
    """An SR 6.15.1 sent by a Network Operator itself: never blocked (SECMP0063)."""
    return variant == SR_UPDATE_SECURITY_CREDENTIALS and user_role in NETWORK_OPERATOR_ROLES


def is_candidate(variant: str, user_role: str, device_type: str) -> bool:
    """Whether an SR can need more than a pass-through: the cheap test made before decoding certificates."""
    targets = _IN_SCOPE_TARGETS.get(variant)
    if targets is None:
        return False
    if is_exempt(variant, user_role):
        return True  # exempt, but recorded as such
    return user_role in SUPPLIER_ROLES and device_type in targets


@dataclass(frozen=True, slots=True)
class _Checked:
    entity_id: str
    party_id: str
    fault: Reason | None
    detail: str


def _check_certificate(der: bytes, at: int, directory: PartyDirectory, reader: CertificateReader) -> _Checked:
    try:
        cert = reader.read(der)
    except CertificateError as exc:
        return _Checked("", "", Reason(exc.reason), exc.detail)
    holders = directory.holders(cert.entity_id, at)
    owner = holders[0] if len(holders) == 1 else None
    party_id = owner.party_id if owner else ""
    if not cert.is_network_operator:
        return _Checked(
            cert.entity_id,
            party_id,
            Reason.NOT_NETWORK_OPERATOR_CERTIFICATE,
            f"certificate of {cert.entity_id} has Remote Party Role {cert.role_code}, not 03 (NO)",
        )
    if len(holders) > 1:  # the directory must not allow this; never decide by the holders' order
        names = ", ".join(sorted(p.party_id for p in holders))
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
    policy: Policy = Policy(),
) -> Decision:
    """Judge one SR. ``registration`` must be the record in force for ``sr.mpxn`` at ``sr.as_of``."""
    if not is_candidate(sr.service_reference_variant, sr.user_role, sr.target_device_type):
        return Decision(Outcome.ACCEPTED, Branch.OUT_OF_SCOPE, sr.as_of)
    return decide_candidate(sr, registration, directory, reader, policy)


def decide_candidate(
    sr: ServiceRequest,
    registration: Registration | None,
    directory: PartyDirectory,
    reader: CertificateReader,
    policy: Policy = Policy(),
) -> Decision:
    """``decide`` for an SR already known to be a candidate (``is_candidate``): the scope test is not repeated."""
    at = sr.as_of
    variant = sr.service_reference_variant
    if is_exempt(variant, sr.user_role):
        return Decision(
            Outcome.ACCEPTED,
            Branch.EXEMPT_NETWORK_OPERATOR,
            at,
            detail=f"SR 6.15.1 sent by a Network Operator ({sr.user_role}) is never blocked",
        )
    wrong_owner_code, missing_code = CODES[variant]
    if sr.remote_party_role is None:  # mandatory in DUIS for both SRs: broken input never passes unchecked
        return Decision(
            Outcome.REJECTED,
            Branch.CERTIFICATE_FAULT,
            at,
            wrong_owner_code,
            Reason.MISSING_REMOTE_PARTY_ROLE,
            "RemotePartyRole is missing: the certificates' cells cannot be known, so they are not let through",
        )
    if sr.remote_party_role is not RemotePartyRole.NETWORK_OPERATOR:
        return Decision(Outcome.ACCEPTED, Branch.NO_NETWORK_OPERATOR_CERTIFICATES, at)

    registered = registration.network_operator_id if registration else None
    checked = [_check_certificate(c.der, at, directory, reader) for c in sr.certificates]
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
            wrong_owner_code,
            Reason.MALFORMED_CERTIFICATE,
            "NetworkOperator role but no certificate supplied",
            **evidence,
        )
    faults = [c for c in checked if c.fault is not None]
    if faults:  # the worst fault, ties broken by entity and detail: never by the certificates' order
        worst = min(faults, key=lambda c: (_SEVERITY[c.fault], c.entity_id, c.detail))  # type: ignore[index]
        return Decision(
            Outcome.REJECTED, Branch.CERTIFICATE_FAULT, at, wrong_owner_code, worst.fault, worst.detail, **evidence
        )

    if registered is None:
        reason = Reason.NO_MPXN if not sr.mpxn else Reason.NO_REGISTRATION
        detail = "the SR names no MPxN" if not sr.mpxn else f"no Network Operator registered for {sr.mpxn} at {at} ms"
        if policy.on_missing_registration is MissingRegistration.ACCEPT:
            return Decision(
                Outcome.ACCEPTED, Branch.MISSING_REGISTRATION, at, None, reason, detail, flagged=True, **evidence
            )
        return Decision(Outcome.REJECTED, Branch.MISSING_REGISTRATION, at, missing_code, reason, detail, **evidence)

    foreign = sorted((c for c in checked if c.party_id != registered), key=lambda c: c.entity_id)
    if foreign:
        first = foreign[0]
        if not directory.has_credentials(registered, at):
            # Some IDNOs never created SMKI credentials: no Supplier could place the right certificates.
            return Decision(
                Outcome.REJECTED,
                Branch.FOREIGN_OWNER,
                at,
                wrong_owner_code,
                Reason.REGISTERED_NETWORK_OPERATOR_HAS_NO_CREDENTIALS,
                f"{sr.mpxn} is registered to {registered}, which holds no SMKI credentials in the party directory "
                f"at {at} ms (certificate of {first.entity_id} belongs to {first.party_id})",
                **evidence,
            )
        return Decision(
            Outcome.REJECTED,
            Branch.FOREIGN_OWNER,
            at,
            wrong_owner_code,
            Reason.FOREIGN_NETWORK_OPERATOR,
            f"certificate of {first.entity_id} belongs to {first.party_id}, "
            f"but {sr.mpxn} is registered to {registered}",
            **evidence,
        )
    return Decision(Outcome.ACCEPTED, Branch.REGISTERED_OWNER, at, **evidence)
