"""Build the ledger from the accepted SR topic (live, or a replay's; Avro or DUIS XML as srguard's input
format says), then the outcomes topic that confirms or undoes placements, and load device snapshots:
incremental and idempotent."""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Message
from confluent_kafka.admin import AdminClient

from processor.avro import Serde
from processor.config import InputFormat, Settings
from processor.domain.certificates import CertificateReader
from processor.domain.identifiers import canonical_eui64
from processor.duis.request import candidate as duis_candidate
from processor.duis.response import parse_response
from processor.errors import BadInput, DecodeError, ErrorClass, InvalidIdentifier
from processor.kafka.edge import coordinates
from processor.kafka.reading import read_history
from processor.kafka.topics import require_topics
from processor.ledger.events import LEDGER_VARIANTS, Change, Skip, outcome_change, snapshot_change, sr_change
from processor.ledger.model import Cell, DeviceCells, Outcome, outcome_of
from processor.ledger.store import LedgerStore
from processor.names import Schema
from processor.stream.serde import Peek, candidate
from processor.times import parse_time

SNAPSHOT_COLUMNS = ("device_id", "cell", "entity_id", "as_of")
CELL_NAMES = {  # a snapshot's cell column, lower case without "_"
    "ds": Cell.DIGITAL_SIGNING,
    "digitalsigning": Cell.DIGITAL_SIGNING,
    "ka": Cell.KEY_AGREEMENT,
    "keyagreement": Cell.KEY_AGREEMENT,
}


def device_key(device_id: str) -> str:
    """The ledger's key for a device: its canonical EUI-64, so every written form finds the same device."""
    try:
        return canonical_eui64(device_id)
    except InvalidIdentifier:
        return device_id


@dataclass
class BuildSummary:
    read: int = 0
    changes: int = 0  # commissionings, placements and outcomes applied
    devices_changed: int = 0
    undecodable: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> records
    seconds: float = 0.0


Decoder = Callable[[Message], "tuple[str, Change] | Skip | None"]


def _ledger_variants(head: Peek) -> bool:
    return head.variant in LEDGER_VARIANTS


def build_ledger(
    settings: Settings,
    parts: tuple[LedgerStore, CertificateReader, Serde],
    topic: str,
    outcomes: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> BuildSummary:
    """Apply ``topic``'s accepted SRs, then ``outcomes``' responses, from where the last build stopped, into
    the store of ``parts`` (with its certificate reader and serde)."""
    store, reader, serde = parts
    summary = BuildSummary()
    started = time.perf_counter()

    duis = settings.input_format is InputFormat.DUIS  # srguard passes its input through untouched

    def accepted(msg: Message) -> tuple[str, Change] | Skip | None:
        if duis:
            sr = duis_candidate(msg.value(), msg.timestamp()[1], LEDGER_VARIANTS.__contains__)
        else:
            sr = candidate(msg.value(), _ledger_variants, serde, topic)
        return None if sr is None else sr_change(sr, reader)

    sources: list[tuple[str, Decoder]] = [(topic, accepted)]
    if outcomes:
        sources.append((outcomes, lambda msg: _outcome(msg, serde, outcomes)))
    # Every source exists before anything is applied: a typo'd --outcomes found after the SRs were applied
    # would leave a ledger whose rerun reads nothing of them.
    admin = AdminClient(settings.kafka_config("admin"))
    require_topics(admin, [name for name, _ in sources], settings.bootstrap_servers)
    stored = store.stored_offsets()
    for name, decode in sources:
        resume = {int(k.rsplit(":", 1)[1]): v for k, v in stored.items() if k.rsplit(":", 1)[0] == name}
        for batch in read_history(settings.kafka_config("consumer"), name, resume=resume):
            changes: list[tuple[str, Change]] = []
            offsets: dict[str, int] = {}
            for msg in batch:
                _, partition, offset = coordinates(msg)
                offsets[f"{name}:{partition}"] = offset + 1
                try:
                    found = decode(msg)
                except DecodeError:
                    summary.undecodable += 1
                    continue
                if isinstance(found, Skip):
                    summary.skipped[str(found)] += 1
                elif found is not None:
                    changes.append(found)
            summary.devices_changed += apply_changes(store, changes, offsets)
            summary.changes += len(changes)
            summary.read += len(batch)
            if progress:
                progress(summary.read)
    summary.seconds = time.perf_counter() - started
    return summary


def _outcome(msg: Message, serde: Serde, topic: str) -> tuple[str, Change] | Skip:
    value = msg.value()
    if value is not None and value.lstrip()[:1] == b"<":
        response = parse_response(value)
        if response is None:
            return Skip("device or DCC alert: answers no SR")
        return outcome_change(response.request_id, outcome_of(response.response_code))
    if value is None:
        raise DecodeError("tombstone (null value) on the outcomes topic", ErrorClass.EMPTY)
    record = serde.decode(Schema.SR_OUTCOME, value, topic)
    outcome = Outcome.CANCELLED if record["cancelled"] else outcome_of(record["response_code"])
    return outcome_change(record["request_id"], outcome)


def apply_changes(store: LedgerStore, changes: list[tuple[str, Change]], offsets: dict[str, int]) -> int:
    """Apply the changes in order, with the offsets of what they came from, in one Redis transaction."""

    def change(current: dict[str, DeviceCells]) -> dict[str, DeviceCells]:
        for device, step in changes:
            current[device] = step(current[device])
        return current

    if not changes and not offsets:
        return 0
    return store.update([device for device, _ in changes], change, offsets)


@dataclass
class SnapshotSummary:
    rows: int = 0
    devices: int = 0
    devices_changed: int = 0
    rejected: list[str] = field(default_factory=list)  # "line N: why"


def load_snapshot(store: LedgerStore, path: Path, chunk: int = 10_000) -> SnapshotSummary:
    """A CSV of devices' NO cells as read from the devices (device_id, cell, entity_id, as_of): rows that
    cannot be read are rejected with their line and reason; the others are applied. A file that is not
    UTF-8 CSV is refused whole, before anything is written (cells are written after the whole read)."""
    summary = SnapshotSummary()
    cells: dict[tuple[str, int], dict[Cell, str]] = {}
    try:
        with path.open(newline="", encoding="utf-8") as source:
            rows = csv.DictReader(source)
            missing = [c for c in SNAPSHOT_COLUMNS if c not in (rows.fieldnames or [])]
            if missing:
                columns = ", ".join(SNAPSHOT_COLUMNS)
                raise BadInput(f"{path}: the header lacks {', '.join(missing)} (columns: {columns})")
            for row in rows:
                try:
                    device, cell, entity, as_of = _snapshot_row(row)
                except ValueError as exc:
                    summary.rejected.append(f"line {rows.line_num}: {exc}")
                    continue
                cells.setdefault((device, as_of), {})[cell] = entity
                summary.rows += 1
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInput(f"{path} is not UTF-8 CSV ({exc}); nothing was loaded") from exc
    summary.devices = len({device for device, _ in cells})
    changes = [(device, snapshot_change(entities, as_of)) for (device, as_of), entities in cells.items()]
    for start in range(0, len(changes), chunk):
        summary.devices_changed += apply_changes(store, changes[start : start + chunk], {})
    return summary


def _snapshot_row(row: dict[str, str | None]) -> tuple[str, Cell, str, int]:
    """One snapshot line's cell; ValueError saying what is wrong with it."""
    if any(row.get(c) is None for c in SNAPSHOT_COLUMNS):
        raise ValueError(f"fewer than the {len(SNAPSHOT_COLUMNS)} columns")
    values = {c: row[c] or "" for c in SNAPSHOT_COLUMNS}
    cell = CELL_NAMES.get(values["cell"].strip().lower().replace("_", ""))
    if cell is None:
        raise ValueError(f"cell {values['cell']!r} is not ds or ka")
    device, entity = canonical_eui64(values["device_id"]), canonical_eui64(values["entity_id"])
    return device, cell, entity, parse_time(values["as_of"])
