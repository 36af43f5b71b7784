"""An SR's subject: who sent it and what it targets, as the DSP's party directory and device inventory say.

A DUIS SR names neither its originator's role nor its target's type or MPxN: the DSP takes them from
its data. An Avro ServiceRequest names them, and they must agree with that data.
"""

from __future__ import annotations

from dataclasses import dataclass

from processor.domain.decision import Reason
from processor.domain.identifiers import Fuel
from processor.domain.model import (
    NETWORK_OPERATOR_ROLES,
    SUPPLIER_ROLES,
    Device,
    DeviceType,
    PartyDirectory,
    ServiceRequest,
    UserRole,
)

FUEL_OF_DEVICE = {DeviceType.ESME: Fuel.ELECTRICITY, DeviceType.GPF: Fuel.GAS}
FUEL_OF_ROLE = {
    UserRole.IS: Fuel.ELECTRICITY,
    UserRole.ES: Fuel.ELECTRICITY,
    UserRole.ED: Fuel.ELECTRICITY,
    UserRole.GS: Fuel.GAS,
    UserRole.GT: Fuel.GAS,
}
_ROLE_ORDER = tuple(UserRole)


@dataclass(frozen=True, slots=True)
class Subject:
    """Who sent an SR and what it targets, as the DSP's data says at the SR's time.

    ``fault``: why the data cannot place the SR (the SR's own claims contradict the inventory, or
    neither names the device's type). ``from_inventory``: the device was in the inventory; without it
    the SR's own fields stand in (Avro input only: a DUIS SR names none)."""

    user_role: UserRole | None
    device_type: DeviceType | None
    mpxn: str | None
    from_inventory: bool
    fault: tuple[Reason, str] | None = None


def role_for(roles: tuple[str, ...], device_type: DeviceType | None) -> UserRole | None:
    """The role a party acts in towards a target, of the roles it holds its entity under: the one of the
    target's fuel (a dual-fuel supplier is an Import Supplier to an ESME, a Gas Supplier to a GPF); where it
    could still be either, a supplier role before a network operator's, so an exemption is never a guess."""
    held = [UserRole(r) for r in roles if r in UserRole.__members__]
    fuel = FUEL_OF_DEVICE.get(device_type) if device_type is not None else None
    return min(
        held,
        key=lambda r: (FUEL_OF_ROLE.get(r) is not fuel, r not in SUPPLIER_ROLES, _ROLE_ORDER.index(r)),
        default=None,
    )


def _judged_mpxn(device: Device) -> tuple[str | None, tuple[Reason, str] | None]:
    """The MPxN a device is judged on: its import MPxN; its only one; never a guess between two."""
    if device.import_mpxn is not None:
        return device.import_mpxn, None
    if len(device.mpxns) <= 1:
        return (device.mpxns[0] if device.mpxns else None), None
    detail = f"device {device.device_id} serves {', '.join(device.mpxns)} and the inventory names no import MPxN"
    return None, (Reason.INVENTORY_NAMES_NO_IMPORT_MPXN, detail)


def _role(sr: ServiceRequest, device_type: DeviceType | None, directory: PartyDirectory) -> tuple[UserRole | None, str]:
    """The originator's role at ``sr.as_of`` and, when the SR's own role contradicts the directory, why. The
    directory's role stands; an SR's claim to an NO's role that the directory cannot confirm is no role."""
    held = directory.roles(sr.originator_id, sr.as_of)
    chosen = role_for(held, device_type)
    claimed = sr.user_role
    if claimed is None or claimed.value in held:
        return (claimed or chosen), ""
    if held:
        return chosen, f"the SR names role {claimed}, the party directory holds {sr.originator_id} as {', '.join(held)}"
    return (None if claimed in NETWORK_OPERATOR_ROLES else claimed), ""


def subject_of(sr: ServiceRequest, device: Device | None, directory: PartyDirectory) -> Subject:
    """The SR's subject: the role from the party directory (its originator's roles at ``sr.as_of``, the one
    fitting the target), checked against the SR's own; device type and MPxN from the inventory record
    ``device`` (in force at ``sr.as_of``) or else from the SR. What the SR says and the DSP's data
    contradicts is a fault, never overridden."""
    role, role_claim = _role(sr, device.device_type if device else sr.target_device_type, directory)
    role_fault = (Reason.REQUEST_CONTRADICTS_PARTY_DIRECTORY, role_claim) if role_claim else None
    if device is None:
        fault = role_fault
        if sr.target_device_type is None:
            fault = (Reason.UNKNOWN_DEVICE, f"device {sr.target_device_id} is not in the device inventory")
        return Subject(role, sr.target_device_type, sr.mpxn, False, fault)
    judged, mpxn_fault = _judged_mpxn(device)
    claims = []
    if sr.target_device_type is not None and sr.target_device_type is not device.device_type:
        claims.append(f"the SR names a {sr.target_device_type}, the inventory holds a {device.device_type}")
    if sr.mpxn and sr.mpxn not in device.mpxns:
        held = ", ".join(device.mpxns) or "no MPxN"
        claims.append(f"the SR names MPxN {sr.mpxn}, the inventory holds {held}")
    elif sr.mpxn and judged is not None and sr.mpxn != judged:
        claims.append(f"the SR names MPxN {sr.mpxn}, the device's import MPxN is {judged}")
    fault = role_fault or mpxn_fault
    if claims:
        fault = (Reason.REQUEST_CONTRADICTS_INVENTORY, f"device {device.device_id}: " + "; ".join(claims))
    return Subject(role, device.device_type, judged, True, fault)
