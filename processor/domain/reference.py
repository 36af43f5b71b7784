"""What judging a batch of SRs needs from the DSP's data, as an interface: the judge asks through it, the
registration room answers it from Redis, tests and replays of in-memory worlds from plain look-ups. No I/O."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from processor.domain.model import Device, PartyDirectory, Registration

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
