"""A reference topic's record as the change it makes to its store: the feed's decoders. What a store cannot
take is refused here (ValueError, DecodeError), so it is set aside alone and never costs its batch."""

from __future__ import annotations

from processor.avro import PLAIN, Serde
from processor.domain.identifiers import Fuel, canonical_eui64
from processor.domain.model import Device, Registration
from processor.errors import DecodeError
from processor.names import Schema
from processor.registration.devices import DeviceWithdrawal, device
from processor.registration.packing import merge_entry
from processor.registration.parties import EntityWithdrawal, PartyCredential, credential
from processor.registration.store import Withdrawal


def registration_change(
    key: bytes | None, value: bytes | None, serde: Serde = PLAIN, topic: str = ""
) -> Registration | Withdrawal:
    """A RegistrationChange record, or a withdrawal for a tombstone (null value) keyed by MPxN."""
    if value is None:
        if not key:
            raise DecodeError("tombstone without a key")
        return Withdrawal(key.decode("utf-8"))
    r = serde.decode(Schema.REGISTRATION_CHANGE, value, topic)
    record = Registration(
        r["mpxn"], Fuel(r["fuel"]), r["network_operator_id"], r["supplier_id"], r["effective_from"], r["sequence"]
    )
    merge_entry(record)  # what cannot be stored is rejected here, not when its whole batch is applied
    return record


def party_credential(
    key: bytes | None, value: bytes | None, serde: Serde = PLAIN, topic: str = ""
) -> PartyCredential | EntityWithdrawal:
    if value is None:
        if not key:
            raise DecodeError("tombstone without a key")
        return EntityWithdrawal(canonical_eui64(key.decode()))
    r = serde.decode(Schema.PARTY_CREDENTIAL, value, topic)
    # Canonical form checked here, so that a record the store cannot take never reaches its batch.
    return credential(r["entity_id"], r["party_id"], r["role"], r["valid_from"], r["valid_to"])


def inventory_change(
    key: bytes | None, value: bytes | None, serde: Serde = PLAIN, topic: str = ""
) -> Device | DeviceWithdrawal:
    """A DeviceInventory record, or a withdrawal for a tombstone keyed by the device's EUI-64."""
    if value is None:
        if not key:
            raise DecodeError("tombstone without a key")
        return DeviceWithdrawal(canonical_eui64(key.decode()))
    r = serde.decode(Schema.DEVICE_INVENTORY, value, topic)
    return device(
        r["device_id"],
        r["device_type"],
        r["mpxns"],
        r["status"],
        r["effective_from"],
        r["sequence"],
        r["import_mpxn"],
    )
