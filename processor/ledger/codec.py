"""A device's NO cells in a few dozen bytes: the ledger holds one record per ESME and GPF in GB (~50
million), so each byte costs ~50 MB of Redis.

Entity EUI-64s (placed entities and originators) are numbered in an ``EntityTable`` (a few thousand in GB:
every party's SMKI entities) so a record names each in 4 bytes; times are kept to the second.

    flags u8 | [commissioned: at u32, by u32] | [ds: holding] | [ka: holding, or its entity u32 only when
    placed by the same SR as ds] | [ds previous: holding] | [ka previous: holding]
    holding = entity u32, at u32, by u32, counter u64, status u8  (21 bytes)
"""

from __future__ import annotations

import struct

from processor.ledger.model import Commissioning, DeviceCells, Holding, Placement, Status

_COMMISSIONED, _DS, _KA, _KA_SHARES_DS, _DS_PREVIOUS, _KA_PREVIOUS = (1 << n for n in range(6))
_FLAGS = struct.Struct("<B")
_COMMISSIONING = struct.Struct("<II")
_HOLDING = struct.Struct("<IIIQB")
_ENTITY = struct.Struct("<I")


class EntityTable:
    """Entity EUI-64 <-> small number, shared by every record; 0 is "" (a snapshot's originator). Numbers
    are handed out in the order entities are first met, so the same history numbers them the same way."""

    def __init__(self, names: list[str] | None = None) -> None:
        self.names = names or [""]
        self.numbers = {name: n for n, name in enumerate(self.names)}
        self.added: dict[str, int] = {}  # handed out since loading: to be stored with the records using them

    def number(self, name: str) -> int:
        found = self.numbers.get(name)
        if found is None:
            found = self.numbers[name] = len(self.names)
            self.names.append(name)
            self.added[name] = found
        return found

    def name(self, number: int) -> str:
        return self.names[number]


def encode(cells: DeviceCells, table: EntityTable) -> bytes:
    flags = 0
    parts: list[bytes] = []
    if cells.commissioned is not None:
        flags |= _COMMISSIONED
        parts.append(_COMMISSIONING.pack(cells.commissioned.at // 1000, table.number(cells.commissioned.by)))
    if cells.ds is not None:
        flags |= _DS
        parts.append(_holding(cells.ds, table))
    if cells.ka is not None:
        flags |= _KA
        if cells.ds is not None and cells.ds.placement == cells.ka.placement:
            flags |= _KA_SHARES_DS
            parts.append(_ENTITY.pack(table.number(cells.ka.entity)))
        else:
            parts.append(_holding(cells.ka, table))
    for bit, holding in ((_DS_PREVIOUS, cells.ds), (_KA_PREVIOUS, cells.ka)):
        if holding is not None and holding.previous is not None:
            flags |= bit
            parts.append(_holding(holding.previous, table))
    return _FLAGS.pack(flags) + b"".join(parts)


def _holding(holding: Holding, table: EntityTable) -> bytes:
    p = holding.placement
    return _HOLDING.pack(table.number(holding.entity), p.at // 1000, table.number(p.by), p.counter, p.status)


def decode(raw: bytes, table: EntityTable) -> DeviceCells:
    (flags,) = _FLAGS.unpack_from(raw)
    offset = _FLAGS.size
    commissioned = ds = ka = None
    if flags & _COMMISSIONED:
        at, by = _COMMISSIONING.unpack_from(raw, offset)
        commissioned, offset = Commissioning(at * 1000, table.name(by)), offset + _COMMISSIONING.size
    if flags & _DS:
        ds, offset = _read_holding(raw, offset, table)
    if flags & _KA:
        if flags & _KA_SHARES_DS and ds is not None:
            (entity,) = _ENTITY.unpack_from(raw, offset)
            ka, offset = Holding(table.name(entity), ds.placement), offset + _ENTITY.size
        else:
            ka, offset = _read_holding(raw, offset, table)
    if flags & _DS_PREVIOUS and ds is not None:
        previous, offset = _read_holding(raw, offset, table)
        ds = Holding(ds.entity, ds.placement, previous)
    if flags & _KA_PREVIOUS and ka is not None:
        previous, offset = _read_holding(raw, offset, table)
        ka = Holding(ka.entity, ka.placement, previous)
    return DeviceCells(commissioned, ds, ka)


def _read_holding(raw: bytes, offset: int, table: EntityTable) -> tuple[Holding, int]:
    entity, at, by, counter, status = _HOLDING.unpack_from(raw, offset)
    placement = Placement(at * 1000, table.name(by), counter, Status(status))
    return Holding(table.name(entity), placement), offset + _HOLDING.size
