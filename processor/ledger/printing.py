"""The ledger for people: one device's cells, the population's breakdowns, one CSV per NO of the devices
whose cells hold another party's certificates (the list an NO needs for its 6.15.1 workaround)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from processor.domain.model import PartyDirectory
from processor.ledger.model import CELLS, DeviceCells, Holding
from processor.ledger.population import WRONG_CONTENTS, Population, State
from processor.times import iso_utc

CELL_TITLES = {"ds": "digital signing", "ka": "key agreement"}
WRONG_COLUMNS = ["device_id", "device_type", "mpxn", "registered_network_operator", "cell", "held_by", "cause"]


def request_text(holding: Holding, device_id: str) -> str:
    """The SR that placed it, as its RequestID (or "snapshot")."""
    p = holding.placement
    return f"{p.by}:{device_id}:{p.counter}" if p.by else "snapshot"


def device_document(device_id: str, cells: DeviceCells, directory: PartyDirectory, at: int) -> dict[str, object]:
    """One device's NO cells as data (``ledger get --output json``): each cell's entity, its owner at ``at``, the
    placement (when, by whom, which SR, its status) and what it held before while pending."""

    def owner(entity: str, when: int) -> str | None:
        found = directory.owner(entity, when)
        return found.party_id if found else None

    def holding_of(holding: Holding) -> dict[str, object]:
        p = holding.placement
        return {
            "entity": holding.entity, "owner": owner(holding.entity, at), "since": p.at, "by": p.by or None,
            "request_id": request_text(holding, device_id) if p.by else None, "status": p.status.name.lower(),
            "previous": holding_of(holding.previous) if holding.previous is not None else None,
        }  # fmt: skip

    found = {cell.value: cells.cell(cell) for cell in CELLS}
    commissioned = cells.commissioned
    return {
        "device_id": device_id,
        "at": at,
        "cells": {name: holding_of(h) if h is not None else None for name, h in found.items()},
        "commissioned": {"at": commissioned.at, "by": commissioned.by} if commissioned else None,
    }


def print_device(device_id: str, cells: DeviceCells, directory: PartyDirectory, at: int, console: Console) -> None:
    def owner(entity: str, when: int) -> str:
        found = directory.owner(entity, when)
        return f"{entity} ({found.party_id})" if found else entity

    table = Table("cell", "holds", "since (UTC)", "by", "request", "status", title=device_id)
    for cell in CELLS:
        holding = cells.cell(cell)
        if holding is None:
            state = "pre-loaded Supplier/ACB" if cells.commissioned else "unknown"
            table.add_row(CELL_TITLES[cell.value], state, "", "", "", "")
            continue
        p = holding.placement
        by = owner(p.by, p.at) if p.by else "snapshot"
        table.add_row(
            CELL_TITLES[cell.value], owner(holding.entity, at), iso_utc(p.at), by, request_text(holding, device_id),
            p.status.name.lower(),
        )  # fmt: skip
        if holding.previous is not None:
            before = holding.previous
            table.add_row("", f"before: {owner(before.entity, at)}", iso_utc(before.placement.at), "", "", "")
    console.print(table)
    if cells.commissioned:
        c = cells.commissioned
        console.print(f"commissioned {iso_utc(c.at)} by {owner(c.by, c.at)}")


def print_sections(population: Population, sections: dict[str, Counter[str]], console: Console) -> None:
    console.print(
        f"[bold]{len(population.devices):,} ESME/GPF devices in service at {iso_utc(population.at)}[/] "
        f"(never updated = {population.min_days}+ days after commissioning)"
    )
    for title, counts in sections.items():
        table = Table("key", "devices", title=title)
        for key, count in counts.most_common():
            table.add_row(key, f"{count:,}")
        console.print(table)


def write_wrong_per_operator(population: Population, folder: Path) -> list[Path]:
    """One CSV per registered NO: its devices whose cells hold another party's certificates, cell by cell."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[list[str]]] = {}
    for d in population.devices:
        if d.state is not State.WRONG:
            continue
        wrong_cells = [c for c in CELLS if d.contents[c] in WRONG_CONTENTS]
        for cell, holder, cause in zip(wrong_cells, d.holders, d.causes, strict=True):
            row = [d.device_id, d.device_type, d.mpxn or "", d.registered, CELL_TITLES[cell.value], holder, cause]
            rows.setdefault(d.registered, []).append(row)
    written = []
    for operator, found in sorted(rows.items()):
        path = folder / f"wrong-no-cells-{operator}.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(WRONG_COLUMNS)
            writer.writerows(sorted(found))
        written.append(path)
    return written
