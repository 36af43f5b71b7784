"""What the rule's answer is made of: outcomes, branches, reasons, response codes and the policy.

SECMP0063 was withdrawn, so DUIS defines no response code for this check. The codes below are this
project's own, following DUIS's ``E`` + SR as four digits + two-digit sequence pattern, after the
highest codes DUIS v5.4 uses for these SRs (E061509, E062105).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from processor.domain.certificates import MALFORMED, UNTRUSTED

SR_UPDATE_SECURITY_CREDENTIALS = "6.15.1"
SR_REQUEST_HANDOVER = "6.21"


@dataclass(frozen=True, slots=True)
class Codes:
    """One SR variant's response codes."""

    foreign_certificate: str  # a certificate is not the registered NO's (or cannot be shown to be)
    missing_registration: str  # no NO registered for the device's MPxN at the SR's time
    subject_fault: str  # the DSP's data cannot place the SR: unknown originator or device, wrong fuel


CODES = {
    SR_UPDATE_SECURITY_CREDENTIALS: Codes("E061510", "E061511", "E061512"),
    SR_REQUEST_HANDOVER: Codes("E062106", "E062107", "E062108"),
}


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Reason(StrEnum):
    """Machine-readable reject reasons (most severe first within the certificate checks)."""

    MISSING_REMOTE_PARTY_ROLE = "missing_remote_party_role"
    MALFORMED_CERTIFICATE = MALFORMED
    UNTRUSTED_ISSUER = UNTRUSTED
    CERTIFICATE_NOT_VALID_AT_SR_TIME = "certificate_not_valid_at_sr_time"
    NOT_NETWORK_OPERATOR_CERTIFICATE = "not_network_operator_certificate"
    UNKNOWN_ENTITY = "unknown_entity"
    AMBIGUOUS_CERTIFICATE_OWNER = "ambiguous_certificate_owner"
    FOREIGN_NETWORK_OPERATOR = "foreign_network_operator"
    REGISTERED_NETWORK_OPERATOR_HAS_NO_CREDENTIALS = "registered_network_operator_has_no_credentials"
    NO_REGISTRATION = "no_registration"
    NO_MPXN = "no_mpxn"
    UNKNOWN_ORIGINATOR = "unknown_originator"
    UNKNOWN_DEVICE = "unknown_device"
    REQUEST_CONTRADICTS_INVENTORY = "request_contradicts_inventory"
    REQUEST_CONTRADICTS_PARTY_DIRECTORY = "request_contradicts_party_directory"
    INVENTORY_NAMES_NO_IMPORT_MPXN = "inventory_names_no_import_mpxn"
    FUEL_MISMATCH = "fuel_mismatch"


class Branch(StrEnum):
    """Which part of the rule decided: the statistics report counts these."""

    OUT_OF_SCOPE = "out_of_scope"
    EXEMPT_NETWORK_OPERATOR = "exempt_network_operator"
    NO_NETWORK_OPERATOR_CERTIFICATES = "no_network_operator_certificates"
    SUBJECT_FAULT = "subject_fault"
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
    # The subject the SR was judged on (its originator's role, its device's type and MPxN); "" = unknown.
    user_role: str = ""
    device_type: str = ""
    mpxn: str | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


DEFAULT_POLICY = Policy()
