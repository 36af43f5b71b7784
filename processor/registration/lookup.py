"""What one batch of SRs needs from the DSP's data, read from Redis in as few round trips as it allows.

The judge asks once per batch, for its candidates only: the party directory, each target device's
inventory record at the SR's time, and the registrations of the MPxNs the SRs name. One pipelined round
trip carries the directory's version, the inventory reads and those registration reads. The MPxN a
subject ends up with is usually one the SR named (Avro SRs name theirs); only MPxNs learnt from the
inventory (a DUIS SR names none) cost a second round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import partial

from processor.domain.model import Device, PartyDirectory, Registration
from processor.registration.devices import DeviceInventoryStore
from processor.registration.parties import DirectoryCache
from processor.registration.store import RegistrationStore, in_force_each

RegistrationLookup = Callable[[Sequence[tuple[str | None, int]]], list[Registration | None]]
DeviceLookup = Callable[[Sequence[tuple[str, int]]], list[Device | None]]


@dataclass(frozen=True)
class BatchReference:
    """The DSP's data as one batch sees it. ``devices``: the record in force for each (device, at) asked;
    ``registrations``: the record in force for each (MPxN, at) the subjects end up with."""

    directory: PartyDirectory
    devices: list[Device | None]
    registrations: RegistrationLookup


# (devices with the SRs' times, the MPxNs the SRs name) -> the batch's view of the data
Reference = Callable[[Sequence[tuple[str, int]], Collection[str]], BatchReference]


def no_inventory(queries: Sequence[tuple[str, int]]) -> list[Device | None]:
    """No device inventory: every SR's own fields stand."""
    return [None] * len(queries)


def separate_lookups(
    registrations: RegistrationLookup, directory: Callable[[], PartyDirectory], devices: DeviceLookup = no_inventory
) -> Reference:
    """A Reference from three plain look-ups (in-memory data, tests): one call each per batch."""
    return lambda queries, _named: BatchReference(directory(), devices(queries), registrations)


class RedisReference:
    """The Reference srguard runs with: the stores of one Redis client, the directory cached in memory."""

    def __init__(
        self, registrations: RegistrationStore, devices: DeviceInventoryStore, directory: DirectoryCache
    ) -> None:
        self.registrations = registrations
        self.devices = devices
        self.directory = directory

    def __call__(self, queries: Sequence[tuple[str, int]], named: Collection[str]) -> BatchReference:
        pipe = self.registrations.client.pipeline(transaction=False)
        directory = self.directory.queue(pipe)
        devices = self.devices.queue_lookup(pipe, queries)
        histories = self.registrations.queue_histories(pipe, named)
        replies = iter(pipe.execute())  # consumed in queue order
        current, found, known = directory(replies), devices(replies), histories(replies)
        return BatchReference(current, found, partial(self._in_force, known))

    def _in_force(
        self, known: dict[str, list[Registration]], queries: Sequence[tuple[str | None, int]]
    ) -> list[Registration | None]:
        missing = {mpxn for mpxn, _ in queries if mpxn and mpxn not in known}
        if missing:
            known = known | self.registrations.histories(missing)
        return in_force_each(known, queries)
