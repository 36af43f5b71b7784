"""Bulk loads of RDP-style refresh files (CSV with a header, optionally gzip) into the stores.

Registrations: ``mpxn,network_operator_id,effective_from`` required; ``supplier_id``, ``fuel``,
``sequence`` optional. ``effective_from`` is an ISO 8601 date or date-time (UTC unless it says
otherwise) or epoch milliseconds; an empty ``network_operator_id`` means "no NO from then on";
``sequence`` defaults to the load time in ms, so a refresh supersedes older data for the same
MPxN and effective_from. A bad check digit is a warning, not a drop (real data often fails it).
Parties: ``entity_id,party_id,role`` required; ``valid_from``, ``valid_to`` optional.
Malformed lines are reported with their line numbers; every other line is loaded.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from processor.domain.identifiers import Fuel, InvalidIdentifier, canonical_eui64, check_digits_ok, fuel_of
from processor.domain.model import Party, Registration
from processor.registration.parties import PartyCredential, PartyStore
from processor.registration.store import RegistrationStore

CHUNK = 50_000
REGISTRATION_COLUMNS = ("mpxn", "network_operator_id", "effective_from")
PARTY_COLUMNS = ("entity_id", "party_id", "role")
EXAMPLES_KEPT = 20


class LoadError(ValueError):
    """The file as a whole cannot be loaded (missing, unreadable, wrong header)."""


@dataclass
class LoadSummary:
    lines: int = 0
    counts: Counter[str] = field(default_factory=Counter)  # inserted / replaced / unchanged ...
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason), first ones
    rejected_total: int = 0
    warnings: list[tuple[int, str]] = field(default_factory=list)
    warnings_total: int = 0
    seconds: float = 0.0

    def reject(self, line: int, reason: str) -> None:
        self.rejected_total += 1
        if len(self.rejected) < EXAMPLES_KEPT:
            self.rejected.append((line, reason))

    def warn(self, line: int, reason: str) -> None:
        self.warnings_total += 1
        if len(self.warnings) < EXAMPLES_KEPT:
            self.warnings.append((line, reason))

    @property
    def rate(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0


def parse_time(text: str) -> int:
    """Epoch ms, or an ISO 8601 date / date-time (naive = UTC) -> epoch ms."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not a time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


class CsvSource:
    """Rows of a CSV file (gzip or plain) with their line numbers; ``position`` is bytes read of the file."""

    def __init__(self, path: Path, required: tuple[str, ...]) -> None:
        self.path = path
        self.required = required
        try:
            self._raw = path.open("rb")
        except OSError as exc:
            raise LoadError(f"cannot open {path}: {exc.strerror}") from exc
        self.size = path.stat().st_size

    @property
    def position(self) -> int:
        return self._raw.tell()

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        stream: IO[bytes] = gzip.GzipFile(fileobj=self._raw) if self._raw.peek(2)[:2] == b"\x1f\x8b" else self._raw
        with io.TextIOWrapper(stream, encoding="utf-8", newline="") as text:
            reader = csv.DictReader(text)
            try:
                missing = [c for c in self.required if c not in (reader.fieldnames or [])]
                if missing:
                    raise LoadError(
                        f"{self.path}: header lacks {', '.join(missing)} "
                        f"(has {', '.join(reader.fieldnames or []) or 'no header'})"
                    )
                for row in reader:
                    yield reader.line_num, row
            except (csv.Error, UnicodeDecodeError, EOFError, gzip.BadGzipFile, OSError) as exc:
                raise LoadError(f"{self.path}: unreadable after line {reader.line_num}: {exc}") from exc


def _registration(row: dict[str, str], default_sequence: int, line: int, summary: LoadSummary) -> Registration:
    mpxn = (row.get("mpxn") or "").strip()
    fuel = fuel_of(mpxn)
    declared = (row.get("fuel") or "").strip().upper()
    if declared and declared != fuel.value:
        raise ValueError(f"fuel {declared} does not match {mpxn} (a {fuel.value.lower()} meter point number)")
    if not check_digits_ok(mpxn, fuel):
        summary.warn(line, f"{mpxn}: check digit does not verify (loaded anyway)")
    sequence = int(row["sequence"]) if (row.get("sequence") or "").strip() else default_sequence
    return Registration(
        mpxn,
        Fuel(fuel),
        (row.get("network_operator_id") or "").strip() or None,
        (row.get("supplier_id") or "").strip() or None,
        parse_time(row["effective_from"]),
        sequence,
    )


def _party(row: dict[str, str]) -> PartyCredential:
    valid_from = parse_time(row["valid_from"]) if (row.get("valid_from") or "").strip() else None
    valid_to = parse_time(row["valid_to"]) if (row.get("valid_to") or "").strip() else None
    party_id, role = row["party_id"].strip(), row["role"].strip().upper()
    if not party_id or not role:
        raise ValueError("party_id and role must not be empty")
    return PartyCredential(canonical_eui64(row["entity_id"]), Party(party_id, role, valid_from, valid_to))


def load_registrations(
    path: Path, store: RegistrationStore, progress: Callable[[int, int, int], None] | None = None
) -> LoadSummary:
    """``progress(lines, bytes read, file size)`` is called after every chunk."""
    summary, chunk = LoadSummary(), []
    default_sequence = int(time.time() * 1000)
    started = time.perf_counter()
    source = CsvSource(path, REGISTRATION_COLUMNS)
    for line, row in source:
        summary.lines += 1
        try:
            chunk.append(_registration(row, default_sequence, line, summary))
        except (ValueError, InvalidIdentifier, KeyError, TypeError) as exc:
            summary.reject(line, str(exc))
        if len(chunk) >= CHUNK:
            summary.counts.update(store.apply(chunk).counts)
            chunk = []
            if progress:
                progress(summary.lines, source.position, source.size)
    if chunk:
        summary.counts.update(store.apply(chunk).counts)
    if progress:
        progress(summary.lines, source.size, source.size)
    summary.seconds = time.perf_counter() - started
    return summary


def load_parties(path: Path, store: PartyStore) -> LoadSummary:
    summary, credentials = LoadSummary(), []
    started = time.perf_counter()
    for line, row in CsvSource(path, PARTY_COLUMNS):
        summary.lines += 1
        try:
            credentials.append(_party(row))
        except (ValueError, InvalidIdentifier, KeyError, AttributeError) as exc:
            summary.reject(line, str(exc))
    summary.counts["entities changed"] = store.apply(credentials)
    summary.counts["credentials"] = len(credentials)
    summary.seconds = time.perf_counter() - started
    return summary
