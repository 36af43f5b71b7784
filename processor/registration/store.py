"""Effective-dated histories in Redis: registrations per MPxN (``RegistrationStore``) and, in the same
layout, device inventory records per device (``processor.registration.devices``).

Key layout (memory: ~55 million GB meter points): MPxNs are hashed (CRC-32) into a fixed number of
buckets; each bucket is one Redis hash ``{prefix}:reg:{bucket:x}`` whose fields are MPxNs and whose
values are the packed records (processor.registration.packing). Small hashes stay listpack-encoded,
which costs a few tens of bytes per MPxN instead of a key's ~70. Size the bucket count to about
MPxNs / 100 (default 2^19 for GB scale); it is fixed at first use and stored in ``{prefix}:reg:meta``
so every process agrees. Each lookup touches one key, so Redis Cluster needs no hash tags for reads.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Generic, Protocol, TypeVar

import redis
from redis.client import Pipeline
from redis.cluster import RedisCluster

from processor.domain.model import Registration
from processor.names import DEFAULT_KEY_PREFIX, RedisKeys
from processor.registration.buckets import (
    HashBuckets,
    Queued,
    RedisClient,
    as_bytes,
    one_round_trip,
    read_offsets,
    write_offsets,
)
from processor.registration.packing import merge_entry, unpack

log = logging.getLogger(__name__)
DEFAULT_BUCKETS = 1 << 19
# Larger listpacks than Redis's defaults (128 entries, 64-byte values) keep busy buckets compact.
LISTPACK_SETTINGS = {"hash-max-listpack-entries": "512", "hash-max-listpack-value": "256"}

_MERGE_LUA = resources.files("processor.registration").joinpath("merge.lua").read_text()
# Buckets merged per script call on one node: a call each would cost the client more than Redis's merge.
BUCKETS_PER_MERGE = 256


@dataclass(frozen=True)
class Withdrawal:
    """A tombstone: the MPxN and its whole history leave the store."""

    mpxn: str


@dataclass
class ApplyStats:
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, other: ApplyStats) -> None:
        self.counts.update(other.counts)


class Dated(Protocol):
    @property
    def effective_from(self) -> int: ...


D = TypeVar("D", bound=Dated)


def in_force(records: list[D], at: int) -> D | None:
    """The record in force at ``at``: the latest effective_from not after it (records are sorted)."""
    found = None
    for record in records:
        if record.effective_from > at:
            break
        found = record
    return found


def in_force_each(histories: dict[str, list[D]], queries: Sequence[tuple[str | None, int]]) -> list[D | None]:
    """For each (member, at): the member's record in force then, from ``histories`` (None for no member)."""
    return [in_force(histories[member], at) if member else None for member, at in queries]


def tune_listpacks(client: RedisClient) -> bool:
    """Best effort: managed Redis services often refuse CONFIG SET; the store works either way."""
    try:
        for name, value in LISTPACK_SETTINGS.items():
            client.config_set(name, value)
        return True
    except redis.ResponseError as exc:
        log.warning("could not tune listpack settings (%s); memory per MPxN will be higher", exc)
        return False


class DatedHistories(Generic[D]):
    """Members' effective-dated records, packed, in hashed buckets under ``namespace``; merged in Redis."""

    def __init__(self, client: RedisClient, namespace: str, offsets_key: str, buckets: int) -> None:
        self.client = client
        self.is_cluster = isinstance(client, RedisCluster)
        self._buckets = HashBuckets(client, namespace, buckets)
        self.offsets_key = offsets_key
        self._merge = client.register_script(_MERGE_LUA)

    def _unpack(self, member: str, raw: bytes) -> list[D]:
        raise NotImplementedError

    @property
    def buckets(self) -> int:
        return self._buckets.count

    def settled(self) -> bool:
        """Whether the bucket layout is the one in Redis (a reader that may not write waits for the feed's)."""
        return self._buckets.settled()

    def key_of(self, member: str) -> str:
        return self._buckets.key_of(member)

    def _history(self, member: str) -> list[D]:
        raw = self.client.hget(self.key_of(member), member)
        return self._unpack(member, as_bytes(raw)) if raw else []

    def queue_histories(self, pipe: Pipeline, members: Iterable[str]) -> Queued[dict[str, list[D]]]:
        """Queue the reads of ``members``' histories on ``pipe`` (one HMGET per bucket); the replies give each
        member's records (none: [])."""
        collect = self._buckets.queue(pipe, members)
        return lambda replies: {m: self._unpack(m, raw) if raw else [] for m, raw in collect(replies).items()}

    def histories(self, members: Iterable[str]) -> dict[str, list[D]]:
        """Every member's records in one round trip (one per node on a cluster)."""
        return one_round_trip(self.client, lambda pipe: self.queue_histories(pipe, members))

    def _lookup_many(self, queries: Sequence[tuple[str | None, int]]) -> list[D | None]:
        """The record in force for each (member, at), in one round trip."""
        return in_force_each(self.histories(m for m, _ in queries if m), queries)

    def in_force_all(self, at: int) -> Iterator[D]:
        """Every member's record in force at ``at`` (a scan of every bucket: for reports' denominators)."""
        for key in self.client.scan_iter(match=f"{self._buckets.namespace}:*", count=1000):
            if as_bytes(key).endswith(b":meta"):
                continue
            for member, raw in self.client.hgetall(key).items():
                found = in_force(self._unpack(as_bytes(member).decode(), as_bytes(raw)), at)
                if found is not None:
                    yield found

    def _apply(self, changes: Iterable[tuple[str, bytes | None]], offsets: dict[str, int] | None) -> ApplyStats:
        """Merge ``(member, merge entry)`` changes (entry None: the member's withdrawal) in one round trip;
        ``offsets`` (``{"topic:0": 42}``) go with them.

        The merge runs in Redis (merge.lua, one call per bucket). On one Redis node the calls and the
        offsets are one MULTI/EXEC transaction, so offsets land atomically with the records. On a
        cluster (no cross-slot transactions) they are pipelined, the offsets last: re-applying after a
        crash is harmless because merging is idempotent.
        """
        per_bucket: dict[str, list[bytes]] = {}
        withdrawals: list[str] = []
        for member, entry in changes:
            if entry is None:
                withdrawals.append(member)
            else:
                per_bucket.setdefault(self.key_of(member), []).append(entry)
        if self.is_cluster:
            merges, replies = len(per_bucket), self._apply_on_cluster(per_bucket, withdrawals, offsets)
        else:
            pipe = self.client.pipeline(transaction=True)
            buckets = list(per_bucket.items())
            groups = [buckets[start : start + BUCKETS_PER_MERGE] for start in range(0, len(buckets), BUCKETS_PER_MERGE)]
            for group in groups:
                self._merge_buckets(group, pipe)
            merges = len(groups)
            for member in withdrawals:
                pipe.hdel(self.key_of(member), member)
            if offsets:
                write_offsets(pipe, self.offsets_key, offsets)
            replies = pipe.execute()
        stats = ApplyStats()
        for inserted, replaced, unchanged in replies[:merges]:
            stats.counts.update(inserted=inserted, replaced=replaced, unchanged=unchanged)
        stats.counts["withdrawn"] += sum(replies[merges : merges + len(withdrawals)])
        return stats

    def _merge_buckets(self, buckets: list[tuple[str, list[bytes]]], pipe: Any) -> None:
        """One merge.lua call for these buckets, one argument each (its changes, concatenated)."""
        self._merge(keys=[key for key, _ in buckets], args=[b"".join(changes) for _, changes in buckets], client=pipe)

    def _apply_on_cluster(
        self, per_bucket: dict[str, list[bytes]], withdrawals: list[str], offsets: dict[str, int] | None
    ) -> list[Any]:
        """redis-py refuses scripts in cluster pipelines: pipeline them per node instead (a round trip each)."""
        assert isinstance(self.client, RedisCluster)
        by_node: dict[str, tuple[Any, list[int]]] = {}
        commands: list[tuple[str, Any]] = [("merge", (k, a)) for k, a in per_bucket.items()]
        commands += [("hdel", m) for m in withdrawals]
        replies: list[Any] = [None] * len(commands)
        for index, (kind, payload) in enumerate(commands):
            key = payload[0] if kind == "merge" else self.key_of(payload)
            node = self.client.get_node_from_key(key)  # type: ignore[no-untyped-call]  # untyped in redis-py
            pipe, order = by_node.setdefault(node.name, (node.redis_connection.pipeline(transaction=False), []))
            if kind == "merge":  # one bucket a call: a script's keys must share a slot
                self._merge_buckets([payload], pipe)
            else:
                pipe.hdel(key, payload)
            order.append(index)
        for pipe, order in by_node.values():
            for index, reply in zip(order, pipe.execute(), strict=True):
                replies[index] = reply
        if offsets:  # after the records: a crash in between only re-applies idempotent changes
            write_offsets(self.client, self.offsets_key, offsets)
        return replies

    def stored_offsets(self) -> dict[str, int]:
        return read_offsets(self.client, self.offsets_key)


class RegistrationStore(DatedHistories[Registration]):
    def __init__(self, client: RedisClient, prefix: str = DEFAULT_KEY_PREFIX, buckets: int | None = None) -> None:
        self.keys = RedisKeys(prefix)
        super().__init__(client, self.keys.registrations, self.keys.feed_offsets, buckets or DEFAULT_BUCKETS)

    def _unpack(self, member: str, raw: bytes) -> list[Registration]:
        return unpack(member, raw)

    def history(self, mpxn: str) -> list[Registration]:
        return self._history(mpxn)

    def lookup(self, mpxn: str, at: int) -> Registration | None:
        return in_force(self.history(mpxn), at)

    def lookup_many(self, queries: Sequence[tuple[str | None, int]]) -> list[Registration | None]:
        return self._lookup_many(queries)

    def apply(self, changes: Iterable[Registration | Withdrawal], offsets: dict[str, int] | None = None) -> ApplyStats:
        return self._apply(
            ((c.mpxn, None) if isinstance(c, Withdrawal) else (c.mpxn, merge_entry(c)) for c in changes), offsets
        )
