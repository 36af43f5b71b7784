"""An SR's subject: who sent it and what it targets, as the DSP's party directory and device inventory say.

A DUIS SR names neither its originator's role nor its target's type or MPxN: the DSP takes them from
its data. An Avro ServiceRequest names them, and they must agree with that data.
"""

from __future__ import annotations

from dataclasses import dataclass

from processor.domain.decision import Reason
from processor.domain.identifiers import Fuel, InvalidIdentifier, fuel_of
from processor.domain.model import Device, DeviceType, PartyDirectory, ServiceRequest, UserRole

FUEL_OF_DEVICE = {DeviceType.ESME: Fuel.ELECTRICITY, DeviceType.GPF: Fuel.GAS}


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


def _served_mpxn(device: Device) -> str | None:
    """The meter point of the device's own fuel, else its first one (a mismatch the rule reports)."""
    fuel = FUEL_OF_DEVICE.get(device.device_type)
    for mpxn in device.mpxns:
        try:
            if fuel_of(mpxn) is fuel:
                return mpxn
        except InvalidIdentifier:
            continue
    return device.mpxns[0] if device.mpxns else None


def subject_of(sr: ServiceRequest, device: Device | None, directory: PartyDirectory) -> Subject:
    """The SR's subject: the role from the SR or else the party directory (its originator's entry at
    ``sr.as_of``); device type and MPxN from the inventory record ``device`` (in force at ``sr.as_of``)
    or else from the SR. What the SR says and the inventory contradicts is a fault, never overridden."""
    role = sr.user_role
    if role is None:
        owner = directory.owner(sr.originator_id, sr.as_of)
        role = UserRole(owner.role) if owner is not None and owner.role in UserRole.__members__ else None
    if device is None:
        fault = None
        if sr.target_device_type is None:
            fault = (Reason.UNKNOWN_DEVICE, f"device {sr.target_device_id} is not in the device inventory")
        return Subject(role, sr.target_device_type, sr.mpxn, False, fault)
    claims = []
    if sr.target_device_type is not None and sr.target_device_type is not device.device_type:
        claims.append(f"the SR names a {sr.target_device_type}, the inventory holds a {device.device_type}")
    if sr.mpxn and sr.mpxn not in device.mpxns:
        held = ", ".join(device.mpxns) or "no MPxN"
        claims.append(f"the SR names MPxN {sr.mpxn}, the inventory holds {held}")
    fault = None
    if claims:
        fault = (Reason.REQUEST_CONTRADICTS_INVENTORY, f"device {device.device_id}: " + "; ".join(claims))
    return Subject(role, device.device_type, sr.mpxn or _served_mpxn(device), True, fault)
