"""LedgerStore: each device's ledger events in Redis, in hashed buckets (processor.registration.buckets).

One writer (``srguard ledger build``) applies batches with optimistic locking (WATCH/MULTI), the
offsets of the topic it reads going in the same transaction, so a rebuild or a second run over the
same SRs leaves the ledger as it was.
"""

from __future__ import annotations

from collections.abc import Iterator

from redis.client import Pipeline

from processor.ledger.model import LedgerEvent, decode_events, encode_events, merge_events
from processor.names import DEFAULT_KEY_PREFIX, RedisKeys
from processor.registration.buckets import HashBuckets, RedisClient, as_bytes, optimistic, read_offsets, write_offsets

DEFAULT_BUCKETS = 1 << 19  # ~50 million devices in scope at ~100 per bucket


class LedgerStore:
    def __init__(self, client: RedisClient, prefix: str = DEFAULT_KEY_PREFIX, buckets: int = DEFAULT_BUCKETS) -> None:
        self.client = client
        keys = RedisKeys(prefix)
        self.buckets = HashBuckets(client, keys.ledger, buckets)
        self.offsets_key = keys.ledger_offsets

    def history(self, device_id: str) -> list[LedgerEvent]:
        raw = self.client.hget(self.buckets.key_of(device_id), device_id)
        return decode_events(as_bytes(raw)) if raw else []

    def apply(self, events: dict[str, list[LedgerEvent]], offsets: dict[str, int]) -> int:
        """Merge each device's new events; returns how many devices changed."""

        def step(pipe: Pipeline) -> int:
            current = self.buckets.read(events)
            pipe.multi()
            changed = 0
            for device, new in events.items():
                raw = current[device]
                encoded = encode_events(merge_events(decode_events(raw) if raw else [], new))
                if encoded != raw:
                    changed += 1
                    pipe.hset(self.buckets.key_of(device), device, encoded)
            if offsets:
                write_offsets(pipe, self.offsets_key, offsets)
            return changed

        return optimistic(self.client, sorted({self.buckets.key_of(device) for device in events}), step)

    def stored_offsets(self) -> dict[str, int]:
        return read_offsets(self.client, self.offsets_key)

    def devices(self) -> Iterator[tuple[str, list[LedgerEvent]]]:
        """Every device and its events (a full scan: for reports)."""
        for key in self.client.scan_iter(match=f"{self.buckets.namespace}:*", count=1000):
            if key.endswith(b":meta"):
                continue
            for device, raw in self.client.hgetall(key).items():
                yield as_bytes(device).decode(), decode_events(as_bytes(raw))
