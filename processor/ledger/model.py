"""What each device's Network Operator trust-anchor cells hold, and how SRs, outcomes and snapshots change
it: pure, no I/O.

Per cell (digital signing, key agreement) the ledger keeps the entity EUI-64 placed there, when, by whom
and by which SR (the DUIS RequestID's originator and counter), and whether the device confirmed it. Owners
are resolved when a report is made, so a party renamed or merged later still owns its entity.

Applying is order-independent and idempotent: a placement only replaces an older one (by SR time, then
originator and counter), a commissioning only clears cells placed before it, an outcome only touches the
placement it names. Rebuilding from the same history gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum, StrEnum

from processor.domain.model import CertificateUsage


class Cell(StrEnum):
    """The NO trust-anchor cells SECMP0063 is about (the key-agreement top-up cell is the Supplier's)."""

    DIGITAL_SIGNING = "ds"
    KEY_AGREEMENT = "ka"


CELLS = (Cell.DIGITAL_SIGNING, Cell.KEY_AGREEMENT)
CELL_OF_USAGE = {
    CertificateUsage.DIGITAL_SIGNING: Cell.DIGITAL_SIGNING,
    CertificateUsage.KEY_AGREEMENT: Cell.KEY_AGREEMENT,
}


class Status(IntEnum):
    BASELINE = 0  # read from the device (a snapshot, e.g. SR 6.24.1 results)
    PENDING = 1  # an accepted SR; no response yet
    CONFIRMED = 2  # the device's response said it succeeded


class Outcome(StrEnum):
    CONFIRMED = "confirmed"  # DUIS I0
    PENDING = "pending"  # acknowledged (I99), a future-dated SR not yet executed
    FAILED = "failed"  # an error response: the cell keeps what it held before
    CANCELLED = "cancelled"  # a future-dated SR cancelled before it executed: the same


@dataclass(frozen=True, slots=True)
class Placement:
    """Who put an entity in a cell, when (ms; kept to the second), by which SR."""

    at: int
    by: str  # the originator's entity EUI-64 ("" for a snapshot)
    counter: int  # the RequestID counter (0 for a snapshot)
    status: Status

    @property
    def order(self) -> tuple[int, str, int]:
        return (self.at // 1000, self.by, self.counter)

    def is_sr(self, by: str, counter: int) -> bool:
        return self.by == by and self.counter == counter


@dataclass(frozen=True, slots=True)
class Holding:
    entity: str  # the certificate's entity EUI-64 (or "unreadable")
    placement: Placement
    previous: Holding | None = None  # while pending: what the cell held before, restored if the SR fails


@dataclass(frozen=True, slots=True)
class Commissioning:
    at: int
    by: str


@dataclass(frozen=True, slots=True)
class DeviceCells:
    commissioned: Commissioning | None = None
    ds: Holding | None = None  # None: nothing placed since commissioning (pre-loaded), or nothing known
    ka: Holding | None = None

    def cell(self, cell: Cell) -> Holding | None:
        return self.ds if cell is Cell.DIGITAL_SIGNING else self.ka

    def with_cell(self, cell: Cell, holding: Holding | None) -> DeviceCells:
        return replace(self, ds=holding) if cell is Cell.DIGITAL_SIGNING else replace(self, ka=holding)

    @property
    def known(self) -> bool:
        return self.commissioned is not None or self.ds is not None or self.ka is not None

    @property
    def pending(self) -> bool:
        return any(h is not None and h.placement.status is Status.PENDING for h in (self.ds, self.ka))


EMPTY = DeviceCells()


def commission(cells: DeviceCells, at: int, by: str) -> DeviceCells:
    """Commissioning loads the Supplier's / ACB's credentials: what was placed before it no longer holds."""
    new = Commissioning(at, by)
    if cells.commissioned is not None and (cells.commissioned.at // 1000, cells.commissioned.by) >= (at // 1000, by):
        return cells
    kept = [h if h is not None and h.placement.at // 1000 >= at // 1000 else None for h in (cells.ds, cells.ka)]
    return DeviceCells(new, kept[0], kept[1])


def place(cells: DeviceCells, entities: dict[Cell, str], placement: Placement) -> DeviceCells:
    """An SR (or a snapshot) puts ``entities`` in their cells, unless something newer is already there."""
    if cells.commissioned is not None and placement.at // 1000 < cells.commissioned.at // 1000:
        return cells  # placed before the device was (re)commissioned
    for cell, entity in sorted(entities.items()):
        current = cells.cell(cell)
        if current is not None and current.placement.order >= placement.order:
            continue
        previous = None
        if placement.status is Status.PENDING and current is not None:
            previous = replace(current, previous=None)  # one level: enough to undo this SR
        cells = cells.with_cell(cell, Holding(entity, placement, previous))
    return cells


def settle(cells: DeviceCells, by: str, counter: int, outcome: Outcome) -> DeviceCells:
    """A response for the SR (by, counter): confirm its placements, or undo them if it failed or was cancelled.
    Responses are read after the SRs, so the SR may already be the held-over ``previous`` of a newer pending
    one (a retry of the same certificates): its answer is kept there, so undoing the newer one restores it
    as answered. Only one level is kept: an undone held-over placement leaves the cell unknown below it."""
    if outcome is Outcome.PENDING:
        return cells
    for cell in CELLS:
        current = cells.cell(cell)
        if current is None:
            continue
        if current.placement.status is Status.PENDING and current.placement.is_sr(by, counter):
            if outcome is Outcome.CONFIRMED:
                settled = Holding(current.entity, replace(current.placement, status=Status.CONFIRMED))
                cells = cells.with_cell(cell, settled)
            else:
                cells = cells.with_cell(cell, current.previous)
            continue
        held = current.previous
        if held is not None and held.placement.status is Status.PENDING and held.placement.is_sr(by, counter):
            answered = (
                replace(held, placement=replace(held.placement, status=Status.CONFIRMED))
                if outcome is Outcome.CONFIRMED
                else None
            )
            cells = cells.with_cell(cell, replace(current, previous=answered))
    return cells


def cancel(cells: DeviceCells, by: str, at: int) -> DeviceCells:
    """A cancellation from ``by`` received at ``at``: its future-dated placements still pending and due after
    ``at`` never execute, so each cell returns to what it held before them."""
    for cell in CELLS:
        current = cells.cell(cell)
        if (
            current is not None
            and current.placement.status is Status.PENDING
            and current.placement.by == by
            and current.placement.at // 1000 > at // 1000
        ):
            cells = cells.with_cell(cell, current.previous)
    return cells


def outcome_of(response_code: str) -> Outcome:
    """A DUIS ResponseCode as an outcome: I0 success; other I codes acknowledge; E codes are failures."""
    if response_code == "I0":
        return Outcome.CONFIRMED
    return Outcome.PENDING if response_code.startswith("I") else Outcome.FAILED
