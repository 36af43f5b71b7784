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
import operator
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from processor.domain.identifiers import InvalidIdentifier, canonical_eui64, check_digits_ok, fuel_of
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
    """Rows of a CSV file (gzip or plain) with their line numbers; ``position`` is bytes read of the file.

    Rows are lists, not dicts (a dict per row costs more than the rest of a registration's parsing):
    ``fields(*names)`` picks named columns from a row; a column the header lacks, or a short row
    lacks, reads as "".
    """

    def __init__(self, path: Path, required: tuple[str, ...]) -> None:
        self.path = path
        self.required = required
        self._index: dict[str, int] = {}
        try:
            self._raw = path.open("rb")
        except OSError as exc:
            raise LoadError(f"cannot open {path}: {exc.strerror}") from exc
        self.size = path.stat().st_size

    @property
    def position(self) -> int:
        return self._raw.tell()

    def fields(self, *names: str) -> Callable[[list[str]], tuple[str, ...]]:
        """Call after the first row: the header is read by then."""
        absent = len(self._index)  # every row carries a "" at this position
        return operator.itemgetter(*(self._index.get(name, absent) for name in names))

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        stream: IO[bytes] = gzip.GzipFile(fileobj=self._raw) if self._raw.peek(2)[:2] == b"\x1f\x8b" else self._raw
        with io.TextIOWrapper(stream, encoding="utf-8", newline="") as text:
            reader = csv.reader(text)
            try:
                header = [name.strip() for name in next(reader, [])]
                missing = [c for c in self.required if c not in header]
                if missing:
                    raise LoadError(
                        f"{self.path}: header lacks {', '.join(missing)} (has {', '.join(header) or 'no header'})"
                    )
                self._index = {name: i for i, name in enumerate(header)}
                width = len(header)
                for row in reader:
                    if not row:  # a blank line, as csv.DictReader skips them
                        continue
                    if len(row) != width:  # short rows read as "", fields past the header are ignored
                        row = (row + [""] * width)[:width]
                    row.append("")  # the column a header lacks
                    yield reader.line_num, row
            except (csv.Error, UnicodeDecodeError, EOFError, gzip.BadGzipFile, OSError) as exc:
                raise LoadError(f"{self.path}: unreadable after line {reader.line_num}: {exc}") from exc


_REGISTRATION_FIELDS = ("mpxn", "network_operator_id", "supplier_id", "effective_from", "fuel", "sequence")


def _registration(fields: tuple[str, ...], default_sequence: int, line: int, summary: LoadSummary) -> Registration:
    mpxn, operator_id, supplier_id, effective_from, declared, sequence = map(str.strip, fields)
    fuel = fuel_of(mpxn)
    if declared and declared.upper() != fuel.value:
        raise ValueError(f"fuel {declared.upper()} does not match {mpxn} (a {fuel.value.lower()} meter point number)")
    if not check_digits_ok(mpxn, fuel):
        summary.warn(line, f"{mpxn}: check digit does not verify (loaded anyway)")
    if not effective_from:
        raise ValueError("effective_from is empty")
    return Registration(
        mpxn,
        fuel,
        operator_id or None,
        supplier_id or None,
        parse_time(effective_from),
        int(sequence) if sequence else default_sequence,
    )


def _party(fields: tuple[str, ...]) -> PartyCredential:
    entity_id, party_id, role, valid_from, valid_to = map(str.strip, fields)
    if not party_id or not role:
        raise ValueError("party_id and role must not be empty")
    return PartyCredential(
        canonical_eui64(entity_id),
        Party(
            party_id,
            role.upper(),
            parse_time(valid_from) if valid_from else None,
            parse_time(valid_to) if valid_to else None,
        ),
    )


def load_registrations(
    path: Path, store: RegistrationStore, progress: Callable[[int, int, int], None] | None = None
) -> LoadSummary:
    """``progress(lines, bytes read, file size)`` is called after every chunk."""
    summary, chunk = LoadSummary(), []
    default_sequence = int(time.time() * 1000)
    started = time.perf_counter()
    source = CsvSource(path, REGISTRATION_COLUMNS)
    fields: Callable[[list[str]], tuple[str, ...]] | None = None
    for line, row in source:
        summary.lines += 1
        fields = fields or source.fields(*_REGISTRATION_FIELDS)
        try:
            chunk.append(_registration(fields(row), default_sequence, line, summary))
        except (ValueError, InvalidIdentifier) as exc:
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
    source = CsvSource(path, PARTY_COLUMNS)
    fields: Callable[[list[str]], tuple[str, ...]] | None = None
    for line, row in source:
        summary.lines += 1
        fields = fields or source.fields(*PARTY_COLUMNS, "valid_from", "valid_to")
        try:
            credentials.append(_party(fields(row)))
        except (ValueError, InvalidIdentifier) as exc:
            summary.reject(line, str(exc))
    summary.counts["entities changed"] = store.apply(credentials)
    summary.counts["credentials"] = len(credentials)
    summary.seconds = time.perf_counter() - started
    return summary
