"""What the ledger says at a point in time, device by device, judged against the truth of that time: the
device inventory (only ESMEs and GPFs, in service), the registered NO and Supplier of the device's MPxN,
and the party directory (whose entity each certificate is, resolved now, so a renamed or merged party
keeps its certificates)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum

from processor.domain.model import (
    NETWORK_OPERATOR_ROLES,
    SUPPLIER_ROLES,
    Device,
    DeviceStatus,
    PartyDirectory,
    Registration,
)
from processor.ledger.events import CELL_DEVICE_TYPES, UNREADABLE
from processor.ledger.model import CELLS, Cell, DeviceCells, Holding, Status
from processor.ledger.store import LedgerStore
from processor.registration.lookup import Stores
from processor.registration.store import RegistrationStore

DAY = 86_400_000
CHUNK = 5000
IN_SERVICE = frozenset({DeviceStatus.COMMISSIONED})


class Content(StrEnum):
    """What one NO cell holds, judged at the report's time."""

    REGISTERED_NO = "the registered NO's"
    OTHER_NO = "another NO's"
    SUPPLIER = "a Supplier's"
    ACB_OR_OTHER = "the DCC ACB's or another party's"
    PRELOADED = "pre-loaded (Supplier or ACB, not read)"
    UNKNOWN_PARTY = "an entity in no directory"
    NO_STATE = "no known state"


WRONG_CONTENTS = frozenset({Content.OTHER_NO, Content.UNKNOWN_PARTY})


class State(StrEnum):
    """A device's NO cells as a whole."""

    CORRECT = "correct"  # both cells hold the registered NO's certificates
    NEVER_UPDATED = "never updated"  # no cell holds any NO's certificates, min_days after commissioning
    RECENT = "not yet updated"  # the same, commissioned less than min_days ago
    PARTLY_UPDATED = "partly updated"  # one cell the registered NO's, the other still a Supplier's/ACB's
    WRONG = "another party's certificates"  # a cell holds another NO's or an unknown entity's
    UNKNOWN = "no known state"  # commissioned before the history, and no snapshot


@dataclass(frozen=True)
class DeviceView:
    device_id: str
    device_type: str
    mpxn: str | None
    registered: str  # the registered NO's market id, "(none)" or "(unregistered)"
    supplier: str  # the registered Supplier's market id now (the responsible one)
    cells: DeviceCells
    contents: dict[Cell, Content]
    state: State
    causes: tuple[str, ...]  # for WRONG, per wrong cell: "placed wrong" / "registration changed" / "in the snapshot"
    holders: tuple[str, ...]  # for WRONG: the party (or entity) holding each wrong cell

    @property
    def pending(self) -> bool:
        return self.cells.pending


@dataclass
class Population:
    """The devices judged, and the ones left out (with why)."""

    at: int
    min_days: int
    devices: list[DeviceView] = field(default_factory=list)
    left_out: Counter[str] = field(default_factory=Counter)


def judge_devices(
    inventory: Iterable[Device],
    ledger: LedgerStore,
    registrations: RegistrationStore,
    directory: PartyDirectory,
    at: int,
    min_days: int = 30,
) -> Population:
    """Every ESME and GPF in service at ``at``, its cells judged; other devices counted as left out."""
    population = Population(at, min_days)
    table = ledger.entity_table()
    for chunk in _chunks(inventory):
        kept = []
        for device in chunk:
            if device.device_type not in CELL_DEVICE_TYPES:
                population.left_out[f"{device.device_type.value}: no NO cells"] += 1
            elif device.status not in IN_SERVICE:
                population.left_out[f"{device.device_type.value} {device.status.value}"] += 1
            else:
                kept.append(device)
        cells = ledger.cells([d.device_id for d in kept], table)
        mpxns = [d.mpxns[0] if d.mpxns else None for d in kept]
        now = registrations.lookup_many([(m, at) for m in mpxns])
        views = [
            _view(device, mpxn, cells[device.device_id], registration, directory, population)
            for device, mpxn, registration in zip(kept, mpxns, now, strict=True)
        ]
        population.devices.extend(_with_causes(views, registrations, directory))
    return population


def population_at(
    reference: Stores, ledger: LedgerStore, at: int, min_days: int, directory: PartyDirectory | None = None
) -> Population:
    """Every ESME and GPF of the inventory in service at ``at``, its NO cells judged (a scan of the inventory)."""
    directory = directory if directory is not None else reference.parties.load()
    return judge_devices(reference.devices.in_force_all(at), ledger, reference.registrations, directory, at, min_days)


def _with_causes(
    views: list[DeviceView], registrations: RegistrationStore, directory: PartyDirectory
) -> list[DeviceView]:
    """Why each wrong cell is wrong, from the registration in force when it was placed: looked up for the
    wrong cells only (one batch), since most devices have none."""
    wrong = [(n, h) for n, v in enumerate(views) for h in _wrong_holdings(v)]
    then = registrations.lookup_many([(views[n].mpxn, h.placement.at) for n, h in wrong])
    causes: dict[int, list[str]] = {}
    for (n, holding), registration in zip(wrong, then, strict=True):
        causes.setdefault(n, []).append(_cause(holding, registration, directory))
    return [replace(v, causes=tuple(causes[n])) if n in causes else v for n, v in enumerate(views)]


def _wrong_holdings(view: DeviceView) -> list[Holding]:
    return [h for c in CELLS if view.contents[c] in WRONG_CONTENTS and (h := view.cells.cell(c)) is not None]


def _chunks(items: Iterable[Device]) -> Iterator[list[Device]]:
    chunk: list[Device] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _view(
    device: Device,
    mpxn: str | None,
    cells: DeviceCells,
    registration: Registration | None,
    directory: PartyDirectory,
    population: Population,
) -> DeviceView:
    registered = (registration.network_operator_id or "(none)") if registration else "(unregistered)"
    supplier = (registration.supplier_id or "(none)") if registration else "(unregistered)"
    contents: dict[Cell, Content] = {}
    holders: list[str] = []
    for cell in CELLS:
        holding = cells.cell(cell)
        content, holder = _content(holding, cells, registered, directory, population.at)
        contents[cell] = content
        if content in WRONG_CONTENTS and holding is not None:
            holders.append(holder)
    state = _state(contents, cells, population)
    return DeviceView(
        device.device_id, device.device_type.value, mpxn, registered, supplier, cells, contents, state,
        (), tuple(holders),
    )  # fmt: skip


def _content(
    holding: Holding | None, cells: DeviceCells, registered: str, directory: PartyDirectory, at: int
) -> tuple[Content, str]:
    if holding is None:
        return (Content.PRELOADED, "") if cells.commissioned is not None else (Content.NO_STATE, "")
    owner = directory.owner(holding.entity, at) if holding.entity != UNREADABLE else None
    if owner is None:
        return Content.UNKNOWN_PARTY, holding.entity
    if owner.role in NETWORK_OPERATOR_ROLES:
        return (Content.REGISTERED_NO if owner.party_id == registered else Content.OTHER_NO), owner.party_id
    return (Content.SUPPLIER if owner.role in SUPPLIER_ROLES else Content.ACB_OR_OTHER), owner.party_id


def _cause(holding: Holding, registration_then: Registration | None, directory: PartyDirectory) -> str:
    if holding.placement.status is Status.BASELINE:
        return "in the snapshot"
    owner = directory.owner(holding.entity, holding.placement.at)
    registered_then = registration_then.network_operator_id if registration_then else None
    return "registration changed" if owner is not None and owner.party_id == registered_then else "placed wrong"


def _state(contents: dict[Cell, Content], cells: DeviceCells, population: Population) -> State:
    values = set(contents.values())
    if values & WRONG_CONTENTS:
        return State.WRONG
    if values == {Content.REGISTERED_NO}:
        return State.CORRECT
    if Content.NO_STATE in values:
        return State.UNKNOWN if Content.REGISTERED_NO not in values else State.PARTLY_UPDATED
    if Content.REGISTERED_NO in values:
        return State.PARTLY_UPDATED
    commissioned = cells.commissioned.at if cells.commissioned else None
    if commissioned is not None and population.at - commissioned < population.min_days * DAY:
        return State.RECENT
    return State.NEVER_UPDATED


def month(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m")


def sections(population: Population) -> dict[str, Counter[str]]:
    """The ledger's breakdowns, titled, for terminals, JSON and `srguard report --with-ledger`."""
    never = [d for d in population.devices if d.state is State.NEVER_UPDATED]
    wrong = [d for d in population.devices if d.state is State.WRONG]
    return {
        "Ledger: ESME/GPF devices in service by NO-cell state": Counter(d.state.value for d in population.devices),
        "Ledger: of which with an unconfirmed placement": Counter(
            d.state.value for d in population.devices if d.pending
        ),
        "Ledger: devices left out": population.left_out,
        f"Ledger: never updated {population.min_days}+ days after commissioning, by current Supplier": Counter(
            d.supplier for d in never
        ),
        "Ledger: never updated, by registered NO": Counter(d.registered for d in never),
        "Ledger: never updated, by cell content": Counter(
            " / ".join(d.contents[c].value for c in CELLS) for d in never
        ),
        "Ledger: holding another party's certificates, by registered NO": Counter(d.registered for d in wrong),
        "Ledger: holding another party's certificates, by cause": Counter(c for d in wrong for c in set(d.causes)),
    }


def cells_of(ledger: LedgerStore, device_id: str) -> DeviceCells:
    return ledger.cells([device_id], ledger.entity_table())[device_id]
