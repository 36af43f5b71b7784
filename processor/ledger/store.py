"""LedgerStore: each device's NO cells in Redis, packed (ledger/codec.py) in hashed buckets whose fields are
the device's 8-byte EUI-64.

One writer (``srguard ledger build`` / ``baseline``) applies batches with optimistic locking (WATCH/MULTI):
the batch's records, the entity numbers it handed out and the offsets of what it read go in one
transaction, so an interrupted build or a second run over the same input leaves the ledger as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from redis.client import Pipeline
from redis.typing import EncodableT, FieldT

from processor.ledger.codec import EntityTable, decode, encode
from processor.ledger.model import EMPTY, DeviceCells
from processor.names import DEFAULT_KEY_PREFIX, RedisKeys
from processor.registration.buckets import HashBuckets, RedisClient, as_bytes, optimistic, read_offsets, write_offsets

DEFAULT_BUCKETS = 1 << 19  # ~50 million devices in scope at ~100 per bucket
# A batch's changes: the devices' current cells in, their new cells out.
Change = Callable[[dict[str, DeviceCells]], dict[str, DeviceCells]]


def field_of(device_id: str) -> bytes:
    """A canonical EUI-64 ("00-12-4B-...") as the 8 bytes the ledger stores it under."""
    return bytes.fromhex(device_id.replace("-", ""))


def device_of(field: bytes) -> str:
    return "-".join(f"{b:02X}" for b in field)


class LedgerStore:
    def __init__(self, client: RedisClient, prefix: str = DEFAULT_KEY_PREFIX, buckets: int = DEFAULT_BUCKETS) -> None:
        self.client = client
        keys = RedisKeys(prefix)
        self.buckets = HashBuckets(client, keys.ledger, buckets)
        self.offsets_key = keys.ledger_offsets
        self.entities_key = keys.ledger_entities

    def entity_table(self) -> EntityTable:
        numbered = {as_bytes(k).decode(): int(v) for k, v in self.client.hgetall(self.entities_key).items()}
        names = [""] * (max(numbered.values(), default=0) + 1)
        for name, number in numbered.items():
            names[number] = name
        return EntityTable(names)

    def cells(self, device_ids: Iterable[str], table: EntityTable) -> dict[str, DeviceCells]:
        """Each device's cells (EMPTY when the ledger has nothing), one HMGET per bucket, pipelined."""
        found = self.buckets.read(device_ids, field_of)
        return {device: decode(as_bytes(raw), table) if raw else EMPTY for device, raw in found.items()}

    def update(self, device_ids: Iterable[str], change: Change, offsets: dict[str, int]) -> int:
        """Apply ``change`` to the devices' cells and store the result with ``offsets``, atomically;
        returns how many devices' records changed."""
        devices = sorted(set(device_ids))
        watched = [*sorted({self.buckets.key_of(d) for d in devices}), self.entities_key]

        def step(pipe: Pipeline) -> int:
            table = self.entity_table()
            current = self.cells(devices, table)
            new = change(dict(current))
            encoded = {d: encode(cells, table) for d, cells in new.items()}
            pipe.multi()
            changed = 0
            for device, raw in encoded.items():
                if raw != encode(current[device], table):
                    changed += 1
                    pipe.hset(self.buckets.key_of(device), field_of(device), raw)
            if table.added:
                numbers: dict[FieldT, EncodableT] = {name: number for name, number in table.added.items()}
                pipe.hset(self.entities_key, mapping=numbers)
            if offsets:
                write_offsets(pipe, self.offsets_key, offsets)
            return changed

        return optimistic(self.client, watched, step)

    def stored_offsets(self) -> dict[str, int]:
        return read_offsets(self.client, self.offsets_key)

    def devices(self) -> Iterator[tuple[str, DeviceCells]]:
        """Every device and its cells (a full scan: for reports)."""
        table = self.entity_table()
        for key in self.client.scan_iter(match=f"{self.buckets.namespace}:*", count=1000):
            if as_bytes(key).endswith(b":meta"):
                continue
            for field, raw in self.client.hgetall(key).items():
                yield device_of(as_bytes(field)), decode(as_bytes(raw), table)
