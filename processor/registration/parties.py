"""PartyStore: the party directory (certificate entity EUI-64 -> market participant) in Redis.

One hash ``{prefix:party}:entities``: field = entity id, value = JSON list of the parties that held
it, each with its validity window. It is small (a few thousand entities), so processors load it
whole and reload only when ``{prefix:party}:version`` (bumped by every write) has moved. The feed's
offsets for the party topic live beside them in ``{prefix:party}:offsets``; the shared hash tag keeps
all three in one slot, so one transaction covers them on Redis Cluster too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from redis.client import Pipeline

from processor.domain.identifiers import canonical_eui64
from processor.domain.model import Party, PartyDirectory, UserRole
from processor.errors import OverlappingHolders
from processor.names import DEFAULT_KEY_PREFIX, RedisKeys
from processor.registration.buckets import (
    Queued,
    RedisClient,
    as_bytes,
    one_round_trip,
    optimistic,
    read_offsets,
    write_offsets,
)


@dataclass(frozen=True)
class PartyCredential:
    entity_id: str
    party: Party


@dataclass(frozen=True)
class EntityWithdrawal:
    entity_id: str


ROLES = tuple(role.value for role in UserRole)


def credential(
    entity_id: str, party_id: str, role: str, valid_from: int | None, valid_to: int | None
) -> PartyCredential:
    """A holding as the directory keeps it, checked: the CSV load and the feed take the same records."""
    if not party_id or not role:
        raise ValueError("party_id and role must not be empty")
    if role.upper() not in ROLES:
        raise ValueError(f"role {role!r} is not a DUIS user role ({', '.join(ROLES)})")
    if valid_from is not None and valid_to is not None and valid_from >= valid_to:
        raise ValueError(f"valid_from {valid_from} is not before valid_to {valid_to}")
    return PartyCredential(canonical_eui64(entity_id), Party(party_id, role.upper(), valid_from, valid_to))


def _overlap(a: Party, b: Party) -> bool:
    a_from, b_from = a.valid_from or -(2**63), b.valid_from or -(2**63)
    a_to, b_to = a.valid_to or 2**63, b.valid_to or 2**63
    return a_from < b_to and b_from < a_to


def _merge(entity: str, held: list[Party], new: Party) -> list[Party]:
    """Same party, role and valid_from: the new record replaces the old one (a correction); another role of
    the same party is kept beside it (a dual-fuel supplier, an IDNO that is also an iGT). Refuses a holding
    that overlaps another party's: a party taking an entity over needs the old holding to end first."""
    kept = [p for p in held if (p.party_id, p.role, p.valid_from) != (new.party_id, new.role, new.valid_from)]
    for other in kept:
        if other.party_id != new.party_id and _overlap(other, new):
            raise OverlappingHolders(
                f"entity {entity}: {new.party_id} from {new.valid_from} to {new.valid_to} overlaps "
                f"{other.party_id} from {other.valid_from} to {other.valid_to}; end the earlier holding first"
            )
    return sorted([*kept, new], key=lambda p: (p.valid_from or 0, p.party_id, p.role))


class PartyStore:
    def __init__(self, client: RedisClient, prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self.client = client
        tag = RedisKeys(prefix).parties
        self.entities_key = f"{tag}:entities"
        self.version_key = f"{tag}:version"
        self.offsets_key = f"{tag}:offsets"

    def apply(
        self, changes: Iterable[PartyCredential | EntityWithdrawal], offsets: dict[str, int] | None = None
    ) -> int:
        """Apply credentials; returns how many entities changed. Offsets are written in the same MULTI."""
        batch = list(changes)
        entity_ids = sorted({canonical_eui64(c.entity_id) for c in batch})

        def step(pipe: Pipeline) -> int:
            current = (
                dict(zip(entity_ids, pipe.hmget(self.entities_key, entity_ids), strict=True)) if entity_ids else {}
            )
            held = {e: [Party(**p) for p in json.loads(raw)] if raw else [] for e, raw in current.items()}
            for change in batch:
                entity = canonical_eui64(change.entity_id)
                held[entity] = (
                    [] if isinstance(change, EntityWithdrawal) else _merge(entity, held[entity], change.party)
                )
            pipe.multi()
            changed = 0
            for entity, parties in held.items():
                encoded = json.dumps([asdict(p) for p in parties]).encode() if parties else None
                if encoded == current[entity]:
                    continue
                changed += 1
                if encoded is None:
                    pipe.hdel(self.entities_key, entity)
                else:
                    pipe.hset(self.entities_key, entity, encoded)
            if changed:
                pipe.incr(self.version_key)
            if offsets:
                write_offsets(pipe, self.offsets_key, offsets)
            return changed

        return optimistic(self.client, [self.entities_key], step)  # one small key: optimistic locking is cheap

    def stored_offsets(self) -> dict[str, int]:
        return read_offsets(self.client, self.offsets_key)

    def load(self) -> PartyDirectory:
        raw = self.client.hgetall(self.entities_key)
        return PartyDirectory({as_bytes(k).decode(): tuple(Party(**p) for p in json.loads(v)) for k, v in raw.items()})

    def get(self, entity_id: str) -> list[Party]:
        raw = self.client.hget(self.entities_key, canonical_eui64(entity_id))
        return [Party(**p) for p in json.loads(raw)] if raw else []


class DirectoryCache:
    """The processor's in-memory directory, reloaded when the store's version moves (one GET per batch)."""

    def __init__(self, store: PartyStore) -> None:
        self.store = store
        self._version = -1
        self.directory = PartyDirectory()

    def queue(self, pipe: Pipeline) -> Queued[PartyDirectory]:
        """The version's GET, queued on ``pipe``; the replies give the directory, reloaded (a round trip of its
        own) only if the version moved."""
        pipe.get(self.store.version_key)

        def current(replies: Iterator[Any]) -> PartyDirectory:
            version = int(next(replies) or 0)
            if version != self._version:
                self.directory = self.store.load()
                self._version = version
            return self.directory

        return current

    def refresh(self, force: bool = False) -> PartyDirectory:
        """The directory now; ``force``: reloaded whatever the version says."""
        if force:
            self._version = -1
        return one_round_trip(self.store.client, self.queue)
