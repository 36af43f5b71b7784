"""What one batch of SRs needs from the DSP's data, read from Redis in as few round trips as it allows.

The judge asks once per batch, for its candidates only: the party directory, each target device's
inventory record at the SR's time, and the registrations of the MPxNs the SRs name. One pipelined round
trip carries the directory's version, the inventory reads and those registration reads. The MPxN a
subject ends up with is usually one the SR named (Avro SRs name theirs); only MPxNs learnt from the
inventory (a DUIS SR names none) cost a second round trip.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import partial

from processor.domain.model import Registration
from processor.domain.reference import BatchReference
from processor.errors import ReferenceLost
from processor.names import REFERENCE_WHOLE
from processor.registration.buckets import as_bytes
from processor.registration.devices import DeviceInventoryStore
from processor.registration.parties import DirectoryCache, PartyStore
from processor.registration.store import RegistrationStore, in_force_each


@dataclass(frozen=True)
class Stores:
    """The reference data in Redis, on one client."""

    registrations: RegistrationStore
    parties: PartyStore
    devices: DeviceInventoryStore


def require_whole(registrations: RegistrationStore) -> None:
    """For commands that read the reference data once (replays, reports, the ledger, evidence): refuse unless
    a feed has said Redis holds all of it."""
    found = registrations.client.get(registrations.keys.reference_epoch)
    epoch = as_bytes(found) if found is not None else None
    if epoch is None or not epoch.startswith(REFERENCE_WHOLE):
        state = "no feed has built it since Redis was empty" if epoch is None else "a feed is still building it"
        raise ReferenceLost(
            f"the reference data in Redis is not whole ({state}): start `srguard feed` (or `srguard run`), "
            "wait until it is ready, then run this again"
        )


class RedisReference:
    """The Reference srguard runs with: the stores of one Redis client, the directory cached in memory.

    Every round trip ends with a read of the feed's epoch. The reads before it in the same pipeline saw the
    whole data if it is there: data is lost (and the epoch with it) and rebuilt before a new epoch is written,
    so an epoch read after them means they were not read from a half-empty Redis."""

    def __init__(
        self, registrations: RegistrationStore, devices: DeviceInventoryStore, directory: DirectoryCache
    ) -> None:
        self.registrations = registrations
        self.devices = devices
        self.directory = directory
        self.epoch_key = registrations.keys.reference_epoch
        self._epoch: bytes | None = None

    def __call__(self, queries: Sequence[tuple[str, int]], named: Collection[str]) -> BatchReference:
        if not (self.registrations.settled() and self.devices.settled()):
            raise ReferenceLost("reference data lost: rebuilding (no feed has built it yet)")
        pipe = self.registrations.client.pipeline(transaction=False)
        directory = self.directory.queue(pipe)
        devices = self.devices.queue_lookup(pipe, queries)
        histories = self.registrations.queue_histories(pipe, named)
        pipe.get(self.epoch_key)
        replies = iter(pipe.execute())  # consumed in queue order
        current, found, known = directory(replies), devices(replies), histories(replies)
        if self._whole(next(replies)):
            self.directory.refresh(force=True)  # rebuilt since: its version may repeat an old one
            raise ReferenceLost("reference data rebuilt since the last batch: read it again")
        return BatchReference(current, found, partial(self._in_force, known))

    def _whole(self, epoch: bytes | None) -> bool:
        """Raise ReferenceLost without an epoch; True when it is not the one seen last (a rebuild since)."""
        if epoch is None or not epoch.startswith(REFERENCE_WHOLE):
            state = "no reference epoch in Redis" if epoch is None else "the feed is building it"
            raise ReferenceLost(f"reference data lost: rebuilding ({state})")
        changed = self._epoch is not None and epoch != self._epoch
        self._epoch = epoch
        return changed

    def _in_force(
        self, known: dict[str, list[Registration]], queries: Sequence[tuple[str | None, int]]
    ) -> list[Registration | None]:
        missing = {mpxn for mpxn, _ in queries if mpxn and mpxn not in known}
        if missing:
            pipe = self.registrations.client.pipeline(transaction=False)
            histories = self.registrations.queue_histories(pipe, missing)
            pipe.get(self.epoch_key)
            replies = iter(pipe.execute())
            known = known | histories(replies)
            if self._whole(next(replies)):
                raise ReferenceLost("reference data rebuilt while a batch was read: read it again")
        return in_force_each(known, queries)
