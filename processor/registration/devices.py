"""DeviceInventoryStore: the DSP's device inventory (Smart Metering Inventory) in Redis, effective-dated.

Same layout and merge as registrations (processor.registration.store): devices hashed into buckets
``{prefix}:dev:{bucket:x}``; the field is the device's EUI-64 as 16 hex digits, the value its records
sorted by effective_from, each ``effective_from (6 bytes LE) | sequence (6) | flags (1) | len+MPxN |
len+MPxN`` (length 0xFF = none) with flags = device type index | 0x08 when the first MPxN is the device's
import MPxN | status index << 4. So a device
holds at most two MPxNs (an ESME's import and export MPAN), which merge.lua's record format fixes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from redis.client import Pipeline

from processor.domain.identifiers import canonical_eui64
from processor.domain.model import Device, DeviceStatus, DeviceType
from processor.errors import InvalidIdentifier
from processor.names import DEFAULT_KEY_PREFIX, RedisKeys
from processor.registration.buckets import Queued, RedisClient, one_round_trip
from processor.registration.packing import MAX48, read_text, text_field
from processor.registration.store import ApplyStats, DatedHistories, in_force_each

DEFAULT_BUCKETS = 1 << 16  # about devices / 100 for a few million devices
MAX_MPXNS = 2
_TYPES = tuple(DeviceType)
_STATUSES = tuple(DeviceStatus)
_TYPE_BITS, _IMPORT_FIRST = 0x07, 0x08  # flags: type index (8 types) | the first MPxN is the import one | status << 4


@dataclass(frozen=True)
class DeviceWithdrawal:
    """A tombstone: the device and its whole history leave the inventory."""

    device_id: str


def member_of(device_id: str) -> str:
    """The hash field of a device: its EUI-64 as 16 hex digits (any common form accepted)."""
    return canonical_eui64(device_id).replace("-", "")


def _member_or_none(device_id: str) -> str | None:
    try:
        return member_of(device_id)
    except InvalidIdentifier:
        return None


def device(
    device_id: str,
    device_type: str,
    mpxns: Sequence[str],
    status: str,
    effective_from: int,
    sequence: int,
    import_mpxn: str | None = None,
) -> Device:
    """An inventory record as the store keeps it, checked: the CSV load and the feed take the same records.
    ``import_mpxn`` (the one it is judged on) is kept first among ``mpxns``. Raises ValueError
    (InvalidIdentifier included) for what cannot be stored."""
    chosen = (import_mpxn or "").strip() or None
    kept = tuple(dict.fromkeys(m.strip() for m in ((chosen or ""), *mpxns) if m.strip()))
    if len(kept) > MAX_MPXNS:
        raise ValueError(f"device {device_id} serves {len(kept)} MPxNs; the inventory keeps at most {MAX_MPXNS}")
    for mpxn in kept:
        if not (mpxn.isascii() and mpxn.isdigit() and 6 <= len(mpxn) <= 13):
            raise ValueError(f"device {device_id}: {mpxn!r} is not an MPAN core or MPRN")
    if not (0 <= effective_from <= MAX48 and 0 <= sequence <= MAX48):
        raise ValueError(f"device {device_id}: effective_from/sequence out of range")
    try:
        kind, state = DeviceType(device_type.strip()), DeviceStatus(status.strip())
    except ValueError as exc:
        raise ValueError(f"device {device_id}: {exc}") from exc
    return Device(canonical_eui64(device_id), kind, kept, state, effective_from, sequence, chosen)


def _merge_entry(record: Device) -> tuple[str, bytes]:
    member = member_of(record.device_id)
    flags = _TYPES.index(record.device_type) | _STATUSES.index(record.status) << 4
    mpxns: list[str | None] = [*record.mpxns, None, None][:MAX_MPXNS]
    if record.import_mpxn is not None:  # device() keeps it first; the flag says the first one is the import one
        flags |= _IMPORT_FIRST
        mpxns = [record.import_mpxn, *(m for m in record.mpxns if m != record.import_mpxn), None][:MAX_MPXNS]
    packed = b"".join(
        (
            record.effective_from.to_bytes(6, "little"),
            record.sequence.to_bytes(6, "little"),
            bytes((flags,)),
            *(text_field(m) for m in mpxns),
        )
    )
    return member, bytes((len(member),)) + member.encode("ascii") + packed


def _unpack(member: str, data: bytes) -> list[Device]:
    device_id = canonical_eui64(member)
    records, pos = [], 0
    while pos < len(data):
        effective_from = int.from_bytes(data[pos : pos + 6], "little")
        sequence = int.from_bytes(data[pos + 6 : pos + 12], "little")
        flags = data[pos + 12]
        first, pos = read_text(data, pos + 13)
        second, pos = read_text(data, pos)
        mpxns = tuple(m for m in (first, second) if m is not None)
        kind, state = _TYPES[flags & _TYPE_BITS], _STATUSES[flags >> 4]
        chosen = mpxns[0] if flags & _IMPORT_FIRST and mpxns else None
        records.append(Device(device_id, kind, mpxns, state, effective_from, sequence, chosen))
    return records


class DeviceInventoryStore(DatedHistories[Device]):
    def __init__(self, client: RedisClient, prefix: str = DEFAULT_KEY_PREFIX, buckets: int | None = None) -> None:
        self.keys = RedisKeys(prefix)
        super().__init__(client, self.keys.devices, self.keys.device_offsets, buckets or DEFAULT_BUCKETS)

    def _unpack(self, member: str, raw: bytes) -> list[Device]:
        return _unpack(member, raw)

    def history(self, device_id: str) -> list[Device]:
        return self._history(member_of(device_id))

    def queue_lookup(self, pipe: Pipeline, queries: Sequence[tuple[str, int]]) -> Queued[list[Device | None]]:
        """``lookup_many`` queued on ``pipe`` (the rest of a batch's reads go with it)."""
        members = [(_member_or_none(device_id), at) for device_id, at in queries]
        collect = self.queue_histories(pipe, (m for m, _ in members if m))
        return lambda replies: in_force_each(collect(replies), members)

    def lookup_many(self, queries: Sequence[tuple[str, int]]) -> list[Device | None]:
        """The record in force for each (device id in any common EUI-64 form, at), in one round trip; an id
        that is no EUI-64 finds nothing (the rule then says the device is unknown or the SR's fields stand)."""
        return one_round_trip(self.client, lambda pipe: self.queue_lookup(pipe, queries))

    def apply(self, changes: Iterable[Device | DeviceWithdrawal], offsets: dict[str, int] | None = None) -> ApplyStats:
        return self._apply(
            ((member_of(c.device_id), None) if isinstance(c, DeviceWithdrawal) else _merge_entry(c) for c in changes),
            offsets,
        )
