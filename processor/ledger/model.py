"""Ledger events and the state they imply: pure, no I/O.

An accepted SR is a request, not proof that the device executed it: the ledger records what srguard
let through, and a placement can be marked confirmed when a DUIS response says it succeeded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum

from processor.domain.certificates import CertificateError, CertificateReader
from processor.domain.decision import SR_REQUEST_HANDOVER, SR_UPDATE_SECURITY_CREDENTIALS
from processor.domain.model import NETWORK_OPERATOR_ROLES, PartyDirectory, RemotePartyRole, ServiceRequest

COMMISSIONING_VARIANTS = frozenset({"8.1.1"})  # Commission Device
PLACEMENT_VARIANTS = frozenset({SR_UPDATE_SECURITY_CREDENTIALS, SR_REQUEST_HANDOVER})


class Kind(StrEnum):
    COMMISSIONED = "commissioned"  # NO cells hold the pre-loaded Supplier / DCC ACB credentials
    PLACED = "placed"  # NO cells now hold `holder`'s certificates


class CellState(StrEnum):
    PRELOADED = "preloaded"  # never updated since commissioning
    NETWORK_OPERATOR = "network_operator"  # a network operator's certificates
    OTHER = "other"  # certificates of a party that is not a network operator (or of no known party)


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    at: int  # the SR's as-of time (ms)
    request_id: str
    kind: Kind
    actor: str  # the originator's market id (or its entity id when unknown)
    holder: str  # whose certificates the NO cells hold afterwards ("" after commissioning)
    holder_is_network_operator: bool
    mpxn: str | None
    confirmed: bool = False  # a DUIS response reported success

    @property
    def order(self) -> tuple[int, str]:
        return (self.at, self.request_id)


@dataclass(frozen=True, slots=True)
class DeviceCells:
    device_id: str
    state: CellState
    holder: str
    since: int
    mpxn: str | None
    commissioned_at: int | None
    commissioned_by: str | None
    confirmed: bool


def encode_events(events: list[LedgerEvent]) -> bytes:
    return json.dumps(
        [
            [
                e.at,
                e.request_id,
                e.kind.value,
                e.actor,
                e.holder,
                int(e.holder_is_network_operator),
                e.mpxn,
                int(e.confirmed),
            ]
            for e in events
        ],
        separators=(",", ":"),
    ).encode()


def decode_events(raw: bytes) -> list[LedgerEvent]:
    return [
        LedgerEvent(at, rid, Kind(kind), actor, holder, bool(no), mpxn, bool(confirmed))
        for at, rid, kind, actor, holder, no, mpxn, confirmed in json.loads(raw)
    ]


def merge_events(existing: list[LedgerEvent], new: list[LedgerEvent]) -> list[LedgerEvent]:
    """Idempotent: an SR already recorded (same request id and kind) changes nothing; order is by time."""
    known = {(e.request_id, e.kind) for e in existing}
    added = [e for e in new if (e.request_id, e.kind) not in known]
    return sorted([*existing, *added], key=lambda e: e.order)


def current_cells(device_id: str, events: list[LedgerEvent]) -> DeviceCells | None:
    if not events:
        return None
    commissioning = [e for e in events if e.kind is Kind.COMMISSIONED]
    last_commissioned = commissioning[-1] if commissioning else None
    latest = events[-1]
    mpxn = next((e.mpxn for e in reversed(events) if e.mpxn), None)
    if latest.kind is Kind.COMMISSIONED:
        state, holder = CellState.PRELOADED, ""
    else:
        state = CellState.NETWORK_OPERATOR if latest.holder_is_network_operator else CellState.OTHER
        holder = latest.holder
    return DeviceCells(
        device_id,
        state,
        holder,
        latest.at,
        mpxn,
        last_commissioned.at if last_commissioned else None,
        last_commissioned.actor if last_commissioned else None,
        latest.confirmed,
    )


def event_for(sr: ServiceRequest, directory: PartyDirectory, reader: CertificateReader) -> LedgerEvent | None:
    """The ledger event an accepted SR implies, or None when it does not touch the NO cells."""
    at = sr.as_of
    originator = directory.owner(sr.originator_id, at)
    actor = originator.party_id if originator else sr.originator_id
    if sr.service_reference_variant in COMMISSIONING_VARIANTS:
        return LedgerEvent(at, sr.request_id, Kind.COMMISSIONED, actor, "", False, sr.mpxn)
    if sr.service_reference_variant not in PLACEMENT_VARIANTS:
        return None
    if sr.remote_party_role is not RemotePartyRole.NETWORK_OPERATOR or not sr.certificates:
        return None
    owners = []
    for certificate in sr.certificates:
        try:
            entity = reader.read(certificate.der).entity_id
        except CertificateError:
            owners.append(("unreadable", False))
            continue
        party = directory.owner(entity, at)
        owners.append((party.party_id, party.role in NETWORK_OPERATOR_ROLES) if party else (f"unknown:{entity}", False))
    holder, is_operator = owners[0]  # the digital signing certificate comes first in DUIS
    return LedgerEvent(at, sr.request_id, Kind.PLACED, actor, holder, is_operator, sr.mpxn)


def as_dict(cells: DeviceCells) -> dict[str, object]:
    return asdict(cells)
