"""What an accepted SR, a device's response or a snapshot row does to a device's NO cells: pure, no I/O.

An accepted SR is a request, not proof that the device executed it: its placements stay pending until a
response (``dcc.sr.outcomes``: Avro ``SrOutcome`` or DUIS Response XML) confirms or undoes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from processor.domain.certificates import CertificateReader
from processor.domain.decision import SR_REQUEST_HANDOVER, SR_UPDATE_SECURITY_CREDENTIALS
from processor.domain.identifiers import canonical_eui64
from processor.domain.model import DeviceType, RemotePartyRole, ServiceRequest
from processor.errors import CertificateError, InvalidIdentifier
from processor.ledger.model import (
    CELL_OF_USAGE,
    Cell,
    DeviceCells,
    Outcome,
    Placement,
    Status,
    cancel,
    commission,
    place,
    settle,
)

COMMISSIONING_VARIANTS = frozenset({"8.1.1"})  # Commission Device
PLACEMENT_VARIANTS = frozenset({SR_UPDATE_SECURITY_CREDENTIALS, SR_REQUEST_HANDOVER})
LEDGER_VARIANTS = COMMISSIONING_VARIANTS | PLACEMENT_VARIANTS
CELL_DEVICE_TYPES = frozenset({DeviceType.ESME, DeviceType.GPF})  # the devices with NO trust-anchor cells
UNREADABLE = "unreadable"  # a certificate whose entity cannot be read

Change = Callable[[DeviceCells], DeviceCells]


@dataclass(frozen=True, slots=True)
class RequestRef:
    """An SR as the ledger names it: RequestID's originator, target device and counter."""

    originator: str
    device: str
    counter: int


def request_ref(request_id: str, originator: str = "", device: str = "") -> RequestRef | None:
    """The parts of a DUIS RequestID (originatorEUI:targetEUI:counter). Another form of id keeps the given
    originator and device, and a 64-bit hash of the id as its counter, so responses still find it."""
    parts = request_id.split(":")
    try:
        if len(parts) == 3 and parts[2].isdigit() and int(parts[2]) < 1 << 64:
            return RequestRef(canonical_eui64(parts[0]), canonical_eui64(parts[1]), int(parts[2]))
        counter = int.from_bytes(hashlib.blake2b(request_id.encode(), digest_size=8).digest(), "big")
        return RequestRef(canonical_eui64(originator), canonical_eui64(device), counter)
    except InvalidIdentifier:
        return None


class Skip(str):
    """Why an SR or response changes no device's cells (counted by the build)."""


def sr_change(sr: ServiceRequest, reader: CertificateReader) -> tuple[str, Change] | Skip | None:
    """(device, change) for an accepted SR that commissions a device or places NO certificates; None for an
    SR that does not touch NO cells; Skip with the reason for one the ledger cannot take."""
    variant = sr.service_reference_variant
    if variant not in LEDGER_VARIANTS:
        return None
    if sr.target_device_type is not None and sr.target_device_type not in CELL_DEVICE_TYPES:
        return None  # a CHF, IHD, PPMID, GSME...: no NO cells
    ref = request_ref(sr.request_id, sr.originator_id, sr.target_device_id)
    if ref is None:
        return Skip("device or originator not an EUI-64")
    if variant in COMMISSIONING_VARIANTS:
        return ref.device, partial(commission, at=sr.as_of, by=ref.originator)
    if sr.is_cancellation:  # whatever it repeats, it places nothing: its originator's pending ones are undone
        return ref.device, partial(cancel, by=ref.originator, at=sr.submitted_at)
    if sr.remote_party_role is not RemotePartyRole.NETWORK_OPERATOR:
        return None
    entities = {}
    for certificate in sr.certificates:
        cell = CELL_OF_USAGE.get(certificate.usage)
        if cell is not None:
            entities[cell] = _entity(certificate.der, reader)
    if not entities:
        return None
    placement = Placement(sr.as_of, ref.originator, ref.counter, Status.PENDING)
    return ref.device, partial(place, entities=entities, placement=placement)


def _entity(der: bytes, reader: CertificateReader) -> str:
    try:
        return reader.read(der).entity_id
    except CertificateError:
        return UNREADABLE


def outcome_change(request_id: str, outcome: Outcome) -> tuple[str, Change] | Skip:
    ref = request_ref(request_id)
    if ref is None:
        return Skip("RequestID is not originatorEUI:targetEUI:counter")
    return ref.device, partial(settle, by=ref.originator, counter=ref.counter, outcome=outcome)


def snapshot_change(entities: dict[Cell, str], as_of: int) -> Change:
    """A device's cells as read from the device (a snapshot row): newer placements are kept."""
    return partial(place, entities=entities, placement=Placement(as_of, "", 0, Status.BASELINE))
