"""The records the rule reasons about. Times are integer milliseconds since the epoch (UTC), as on the wire."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from processor.domain.identifiers import Fuel


class UserRole(StrEnum):
    IS = "IS"  # Import Supplier
    ES = "ES"  # Export Supplier
    GS = "GS"  # Gas Supplier
    ED = "ED"  # Electricity Distributor (electricity Network Operator)
    GT = "GT"  # Gas Transporter (gas Network Operator)
    OU = "OU"  # Other User
    RSA = "RSA"  # Registered Supplier Agent


SUPPLIER_ROLES = frozenset({UserRole.IS, UserRole.ES, UserRole.GS})
NETWORK_OPERATOR_ROLES = frozenset({UserRole.ED, UserRole.GT})


class DeviceType(StrEnum):
    ESME = "ESME"
    GSME = "GSME"
    GPF = "GPF"
    CHF = "CHF"
    HCALCS = "HCALCS"
    PPMID = "PPMID"
    IHD = "IHD"
    CAD = "CAD"


class DeviceStatus(StrEnum):
    """A device's status in the DSP's Smart Metering Inventory."""

    INSTALLED_NOT_COMMISSIONED = "InstalledNotCommissioned"
    COMMISSIONED = "Commissioned"
    DECOMMISSIONED = "Decommissioned"
    WITHDRAWN = "Withdrawn"
    SUSPENDED = "Suspended"


@dataclass(frozen=True, slots=True)
class Device:
    """One effective-dated record of the DSP's device inventory: what the device is, the MPxNs it serves."""

    device_id: str  # canonical EUI-64
    device_type: DeviceType
    mpxns: tuple[str, ...]  # every meter point it serves (an ESME: its import and export MPAN)
    status: DeviceStatus
    effective_from: int
    sequence: int
    import_mpxn: str | None = None  # the one it is judged on (ESME: import MPAN; GPF: MPRN); None = not said


class RemotePartyRole(StrEnum):
    """DUIS RemotePartyRole: which trust-anchor cells of the device the certificates replace."""

    ACB = "ACB"
    NETWORK_OPERATOR = "NetworkOperator"
    RECOVERY = "Recovery"
    ROOT = "Root"
    SUPPLIER = "Supplier"
    TRANS_COS = "TransCoS"
    LOAD_CONTROLLER = "LoadController"


class CertificateUsage(StrEnum):
    DIGITAL_SIGNING = "DigitalSigning"
    KEY_AGREEMENT = "KeyAgreement"
    KEY_AGREEMENT_TOP_UP = "KeyAgreementTopUp"


@dataclass(frozen=True, slots=True)
class ReplacementCertificate:
    usage: CertificateUsage
    der: bytes


CANCELLATION_EXECUTION = 32_535_129_600_000  # 3000-12-31T00:00:00Z in ms
# Of the SRs SECMP0063 checks, only 6.15.1 can be future-dated, and so cancelled (the DCC has a 6.15.1
# cancellation template, none for 6.21, which executes at the DCC at once). A 6.21 dated 3000 is no
# cancellation: it is judged like any other, never waved through.
CANCELLABLE_VARIANTS = frozenset({"6.15.1"})


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    request_id: str
    service_reference_variant: str
    command_variant: int
    originator_id: str
    # What the SR itself says of its originator and target. A DUIS SR says none of it: the DSP's party
    # directory and device inventory do (processor.domain.rule.subject_of).
    user_role: UserRole | None
    target_device_id: str
    target_device_type: DeviceType | None
    mpxn: str | None
    remote_party_role: RemotePartyRole | None
    certificates: tuple[ReplacementCertificate, ...]
    submitted_at: int
    execution_datetime: int | None = None
    payload: bytes | None = None
    # DUIS ApplyTimeBasedCPVChecks: the sender asks for certificate validity periods to be checked.
    apply_time_based_cpv_checks: bool = True

    @property
    def is_cancellation(self) -> bool:
        """DUIS's way to cancel pending future-dated SRs: the same SR with ExecutionDateTime 3000-12-31T00:00:00Z.
        It executes nothing itself: the originator's pending future-dated SRs of that variant for the device
        do not execute (what every *_CANCELLATION_* template of the DCC carries)."""
        return (
            self.execution_datetime == CANCELLATION_EXECUTION and self.service_reference_variant in CANCELLABLE_VARIANTS
        )

    @property
    def as_of(self) -> int:
        """The time registration is judged at: ExecutionDateTime for a future-dated SR, else receipt (also for
        a cancellation, which is about now, not the year 3000)."""
        if (
            self.execution_datetime is not None
            and self.execution_datetime > self.submitted_at
            and not self.is_cancellation
        ):
            return self.execution_datetime
        return self.submitted_at


@dataclass(frozen=True, slots=True)
class Registration:
    """One effective-dated record of the DSP's registration data for an MPxN."""

    mpxn: str
    fuel: Fuel
    network_operator_id: str | None  # market id (e.g. LOND); None = no NO from effective_from on
    supplier_id: str | None
    effective_from: int
    sequence: int


@dataclass(frozen=True, slots=True)
class Party:
    """A market participant holding a certificate entity id, within an optional validity window."""

    party_id: str
    role: str
    valid_from: int | None = None
    valid_to: int | None = None

    def valid_at(self, at: int) -> bool:
        return (self.valid_from is None or self.valid_from <= at) and (self.valid_to is None or at < self.valid_to)


class PartyDirectory:
    """Certificate entity EUI-64 -> the parties that held it (over time). In memory: a few thousand entries."""

    def __init__(self, holders: dict[str, tuple[Party, ...]] | None = None) -> None:
        self._holders = holders or {}
        self._entities: dict[str, list[tuple[str, Party]]] = {}  # party id -> (entity, holding)
        for entity, parties in self._holders.items():
            for party in parties:
                self._entities.setdefault(party.party_id, []).append((entity, party))

    def holders(self, entity_id: str, at: int) -> tuple[Party, ...]:
        """Every holding of the entity in force at ``at``: one party may hold it under several roles at once
        (a dual-fuel supplier, an IDNO that is also an iGT); more than one *party* is a directory fault."""
        return tuple(party for party in self._holders.get(entity_id, ()) if party.valid_at(at))

    def owner(self, entity_id: str, at: int) -> Party | None:
        """The one party holding the entity at ``at`` (its first role line); None when none does, or when
        several different parties do."""
        found = self.holders(entity_id, at)
        return found[0] if found and all(p.party_id == found[0].party_id for p in found) else None

    def party_of(self, entity_id: str, at: int) -> str | None:
        """The market id of the entity's one owner at ``at`` (what the report and the evidence pack name)."""
        owner = self.owner(entity_id, at)
        return owner.party_id if owner else None

    def roles(self, entity_id: str, at: int) -> tuple[str, ...]:
        """The roles its one owner holds the entity under at ``at`` (none when no single party holds it)."""
        found = self.holders(entity_id, at)
        if not found or any(p.party_id != found[0].party_id for p in found):
            return ()
        return tuple(dict.fromkeys(p.role for p in found))

    def has_credentials(self, party_id: str, at: int) -> bool:
        """Whether the party holds any entity (has SMKI credentials in the directory) at ``at``."""
        return any(party.valid_at(at) for _, party in self._entities.get(party_id, ()))

    def owner_history(self, entity_id: str) -> tuple[Party, ...]:
        return self._holders.get(entity_id, ())

    def entities_of(self, party_id: str) -> list[str]:
        return sorted(e for e, parties in self._holders.items() if any(p.party_id == party_id for p in parties))

    def __len__(self) -> int:
        return len(self._holders)
