"""Compact binary form of an MPxN's registration history (one Redis hash field per MPxN).
The merge of a new record into a stored value happens inside Redis (merge.lua).

A value is the MPxN's records sorted by effective_from, each:
``effective_from ms (6 bytes LE) | sequence (6 bytes LE) | flags (1) | len+NO id | len+supplier id``
(length 0xFF = None). About 20 bytes a record, so a hash bucket stays listpack-encoded.
"""

from __future__ import annotations

from processor.domain.identifiers import Fuel
from processor.domain.model import Registration

_GAS = 1
NONE = 0xFF
MAX48 = (1 << 48) - 1


def text_field(value: str | None) -> bytes:
    if value is None:
        return bytes((NONE,))
    raw = value.encode("ascii")
    if len(raw) >= NONE:
        raise ValueError(f"market id too long: {value!r}")
    return bytes((len(raw),)) + raw


def pack(record: Registration) -> bytes:
    """One record; an MPxN's stored value is its records' packs, concatenated in effective_from order."""
    if not (0 <= record.effective_from <= MAX48 and 0 <= record.sequence <= MAX48):
        raise ValueError(f"effective_from/sequence out of range for {record.mpxn}")
    return b"".join(
        (
            record.effective_from.to_bytes(6, "little"),
            record.sequence.to_bytes(6, "little"),
            bytes((_GAS if record.fuel is Fuel.GAS else 0,)),
            text_field(record.network_operator_id),
            text_field(record.supplier_id),
        )
    )


def merge_entry(record: Registration) -> bytes:
    """The record as merge.lua takes it: 1 byte n, the MPxN (n ASCII bytes), then pack(record).
    Raises ValueError for what cannot be stored (callers reject the record, never the batch)."""
    mpxn = record.mpxn.encode("ascii")  # UnicodeEncodeError is a ValueError
    if not 0 < len(mpxn) < NONE:
        raise ValueError(f"MPxN of {len(mpxn)} characters cannot be stored")
    return bytes((len(mpxn),)) + mpxn + pack(record)


def read_text(data: bytes, pos: int) -> tuple[str | None, int]:
    size = data[pos]
    if size == NONE:
        return None, pos + 1
    return data[pos + 1 : pos + 1 + size].decode("ascii"), pos + 1 + size


def unpack(mpxn: str, data: bytes) -> list[Registration]:
    records, pos = [], 0
    while pos < len(data):
        effective_from = int.from_bytes(data[pos : pos + 6], "little")
        sequence = int.from_bytes(data[pos + 6 : pos + 12], "little")
        fuel = Fuel.GAS if data[pos + 12] & _GAS else Fuel.ELECTRICITY
        operator, pos = read_text(data, pos + 13)
        supplier, pos = read_text(data, pos)
        records.append(Registration(mpxn, fuel, operator, supplier, effective_from, sequence))
    return records
