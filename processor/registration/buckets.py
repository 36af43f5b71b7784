"""Members hashed (CRC-32) into a fixed number of small Redis hashes: the compact layout for tens of
millions of entries (small hashes stay listpack-encoded; a key of its own per member costs ~70 bytes)."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import redis
from redis.client import Pipeline
from redis.cluster import RedisCluster
from redis.typing import EncodableT, FieldT

log = logging.getLogger(__name__)
RedisClient = redis.Redis | RedisCluster
T = TypeVar("T")
# Reads queued on a pipeline; the function returned takes the pipeline's replies (consumed in queue order).
Queued = Callable[[Iterator[Any]], T]


def one_round_trip(client: RedisClient, queue: Callable[[Pipeline], Queued[T]]) -> T:
    """Run what ``queue`` puts on a fresh pipeline in one round trip (one per node on a cluster)."""
    pipe = client.pipeline(transaction=False)
    collect = queue(pipe)
    return collect(iter(pipe.execute()))


def optimistic(client: RedisClient, keys: list[str], step: Callable[[Pipeline], T]) -> T:
    """Read-merge-write under WATCH: ``step`` reads, calls ``pipe.multi()`` and queues the writes; it runs
    again whenever another writer touched ``keys`` before EXEC, so no merge is ever lost."""
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                if keys:
                    pipe.watch(*keys)
                result = step(pipe)
                pipe.execute()
                return result
            except redis.WatchError:
                continue


class HashBuckets:
    """The bucket count is fixed at first use in ``<namespace>:meta`` so every process agrees."""

    def __init__(self, client: RedisClient, namespace: str, wanted: int) -> None:
        if wanted < 1 or wanted & (wanted - 1):
            raise ValueError(f"bucket count must be a power of two, got {wanted}")
        self.client = client
        self.namespace = namespace
        self.wanted = wanted
        self._meta = f"{namespace}:meta"
        fixed = client.hget(self._meta, "buckets")
        if fixed is None:  # the first process fixes it (a read-only reader finds it fixed by the feed)
            try:
                client.hsetnx(self._meta, "buckets", wanted)
            except redis.exceptions.NoPermissionError:
                # A reader that may not write (run with embedded_feed = false) on a Redis no feed has built
                # yet: nothing is there to read, and the feed fixes the count (see settled)
                log.info("%s: no bucket count fixed yet and no right to fix it: the feed will", namespace)
            fixed = client.hget(self._meta, "buckets")
        self._fix(fixed)

    def _fix(self, fixed: bytes | str | None) -> None:
        self.fixed = fixed is not None
        self.count = int(as_bytes(fixed)) if fixed is not None else self.wanted
        if self.fixed and self.wanted != self.count:
            log.warning("%s already uses %d buckets; ignoring %d", self.namespace, self.count, self.wanted)
        self._mask = self.count - 1

    def settled(self) -> bool:
        """Whether the count is the one fixed in Redis (read again while it is not: the feed fixes it)."""
        if not self.fixed:
            self._fix(self.client.hget(self._meta, "buckets"))
        return self.fixed

    def key_of(self, member: str) -> str:
        return f"{self.namespace}:{zlib.crc32(member.encode()) & self._mask:x}"

    def queue(
        self, pipe: Pipeline, members: Iterable[str], field: Callable[[str], FieldT] = str
    ) -> Queued[dict[str, bytes | None]]:
        """Queue one HMGET per bucket of ``members`` on ``pipe``; the replies give every member's value.
        ``field``: the hash field a member is stored under (the member itself unless told otherwise)."""
        by_key: dict[str, list[str]] = {}
        for member in sorted(set(members)):
            by_key.setdefault(self.key_of(member), []).append(member)
        for key, fields in by_key.items():
            pipe.hmget(key, [field(f) for f in fields])

        def collect(replies: Iterator[Any]) -> dict[str, bytes | None]:
            found: dict[str, bytes | None] = {}
            for fields in by_key.values():
                found.update(zip(fields, next(replies), strict=True))
            return found

        return collect

    def read(self, members: Iterable[str], field: Callable[[str], FieldT] = str) -> dict[str, bytes | None]:
        """Every member's value in one pipelined round trip (one HMGET per bucket; per node on a cluster)."""
        return one_round_trip(self.client, lambda pipe: self.queue(pipe, members, field))


def as_bytes(raw: bytes | str) -> bytes:
    """A reply as bytes: srguard's clients never decode responses, redis-py's types allow both."""
    return raw if isinstance(raw, bytes) else raw.encode()


def read_offsets(client: RedisClient, key: str) -> dict[str, int]:
    """A feed's or builder's stored positions: ``topic:partition`` -> next offset."""
    return {as_bytes(name).decode(): int(offset) for name, offset in client.hgetall(key).items()}


def write_offsets(pipe: Pipeline | RedisClient, key: str, offsets: dict[str, int]) -> None:
    mapping: dict[FieldT, EncodableT] = {name: offset for name, offset in offsets.items()}
    pipe.hset(key, mapping=mapping)
