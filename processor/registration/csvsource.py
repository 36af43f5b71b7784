"""Reading a refresh file safely: CSV with a header, plain or gzip, line by line in bounded memory.

Malformed lines are reported with their line numbers; every other line is read. That includes lines
the CSV reader itself refuses (a stray quote, a field over the csv module's limit), lines that are not
UTF-8, and lines over MAX_LINE_BYTES, which are skipped without being held in memory. A gzip file may
expand at most MAX_EXPANSION times its size (past MIN_BOMB_BYTES): more is refused as a compression bomb.
"""

from __future__ import annotations

import csv
import gzip
import operator
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BufferedReader
from pathlib import Path

from processor.errors import LoadError

MAX_LINE_BYTES = 64 * 1024  # a registration line is under 100 bytes
MAX_EXPANSION = 200  # CSV compresses ~5-10x; 1000x is a bomb
MIN_BOMB_BYTES = 256 << 20
EXAMPLES_KEPT = 20


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

    def add(self, other: LoadSummary) -> None:
        """Another chunk's summary (chunks are added in file order, so examples stay the first ones)."""
        self.lines += other.lines
        self.counts.update(other.counts)
        self.rejected_total += other.rejected_total
        self.rejected.extend(other.rejected[: EXAMPLES_KEPT - len(self.rejected)])
        self.warnings_total += other.warnings_total
        self.warnings.extend(other.warnings[: EXAMPLES_KEPT - len(self.warnings)])

    @property
    def rate(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Chunk:
    """Consecutive raw lines of the file, never cut inside a quoted field."""

    first_line: int  # the file's line number of lines[0] (the header is line 1)
    lines: list[str]  # a line that could not be read stands as "" (a blank line) and is in `bad`
    end_position: int  # bytes of the file read once this chunk was taken (progress)
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, why it was not read)


class CsvSource:
    """A CSV file (gzip or plain) in chunks of raw lines, to be parsed where the work is done.

    Rows are lists, not dicts (a dict per row costs more than the rest of a registration's parsing):
    ``rows(chunk)`` gives each row with its line number, padded so ``fields(*names)`` can pick named
    columns; a column the header lacks, or a short row lacks, reads as "".
    """

    def __init__(self, path: Path, required: tuple[str, ...]) -> None:
        self.path = path
        try:
            self._raw = path.open("rb")
            self.size = path.stat().st_size
        except OSError as exc:
            raise LoadError(f"cannot open {path}: {exc.strerror}") from exc
        gzipped = self._raw.peek(2)[:2] == b"\x1f\x8b"
        self._stream: gzip.GzipFile | BufferedReader = gzip.GzipFile(fileobj=self._raw) if gzipped else self._raw
        self._max_bytes = max(MIN_BOMB_BYTES, MAX_EXPANSION * self.size) if gzipped else None
        self._read_bytes = 0
        try:
            first = self._stream.readline(MAX_LINE_BYTES)
            header = [name.strip() for name in next(csv.reader([first.decode("utf-8")]), [])]
        except UnicodeDecodeError as exc:
            self._raw.close()
            raise LoadError(f"{path}: line 1 (the header) is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
        except (csv.Error, EOFError, gzip.BadGzipFile, OSError) as exc:
            self._raw.close()
            raise LoadError(f"{path}: unreadable header: {exc}") from exc
        missing = [c for c in required if c not in header]
        if missing:
            self._raw.close()
            raise LoadError(f"{path}: header lacks {', '.join(missing)} (has {', '.join(header) or 'no header'})")
        self.index = {name: i for i, name in enumerate(header)}

    def fields(self, *names: str) -> Callable[[list[str]], tuple[str, ...]]:
        absent = len(self.index)  # every row carries a "" at this position
        return operator.itemgetter(*(self.index.get(name, absent) for name in names))

    def _lines(self) -> Iterator[tuple[str | None, str]]:
        """Each line as text, or (None, why) for one that cannot be: over-long (skipped unread) or not UTF-8."""
        stream = self._stream
        while True:
            raw = stream.readline(MAX_LINE_BYTES)
            if not raw:
                return
            self._read_bytes += len(raw)
            if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
                skipped = len(raw)
                while raw and not raw.endswith(b"\n"):  # the rest of the line, a piece at a time
                    raw = stream.readline(MAX_LINE_BYTES)
                    skipped += len(raw)
                    self._read_bytes += len(raw)
                    self._check_expansion()
                yield None, f"line of {skipped} bytes is over the {MAX_LINE_BYTES}-byte limit (skipped)"
                continue
            self._check_expansion()
            try:
                yield raw.decode("utf-8"), ""
            except UnicodeDecodeError as exc:
                yield None, f"not UTF-8 text: {exc.reason} at byte {exc.start}"

    def _check_expansion(self) -> None:
        if self._max_bytes is not None and self._read_bytes > self._max_bytes:
            raise LoadError(
                f"{self.path}: expands past {self._max_bytes} bytes from {self.size} compressed: "
                "refused as a compression bomb"
            )

    def chunks(self, size: int) -> Iterator[Chunk]:
        line_number = 1
        try:
            with self._raw:
                lines: list[str] = []
                bad: list[tuple[int, str]] = []
                quoted = False  # inside a quoted field that spans lines: no cut here
                for text, why in self._lines():
                    if text is None:
                        bad.append((line_number + len(lines) + 1, why))
                        text = ""
                    lines.append(text)
                    quoted ^= text.count('"') % 2 == 1
                    # A stray quote must not make the rest of the file one chunk: cut anyway at 4x.
                    if len(lines) >= size and (not quoted or len(lines) >= 4 * size):
                        yield Chunk(line_number + 1, lines, self._raw.tell(), bad)
                        line_number, lines, bad = line_number + len(lines), [], []
                if lines:
                    yield Chunk(line_number + 1, lines, self._raw.tell(), bad)
        except (EOFError, gzip.BadGzipFile, OSError) as exc:
            raise LoadError(f"{self.path}: unreadable after line {line_number}: {exc}") from exc

    def rows(self, chunk: Chunk, summary: LoadSummary) -> Iterator[tuple[int, list[str]]]:
        """The chunk's rows with their line numbers; lines that are not a CSV row are rejected into
        ``summary`` (and counted), each on its own: one stray quote costs its own line, not the ones after."""
        for line, why in chunk.bad:
            summary.lines += 1
            summary.reject(line, why)
        width = len(self.index)
        start = 0  # index in chunk.lines where the current reader began
        while start < len(chunk.lines):
            reader = csv.reader(chunk.lines[start:], strict=True)
            done = 0  # lines of this reader's input turned into rows
            try:
                for row in reader:
                    first = chunk.first_line + start + done
                    done = reader.line_num
                    if row:  # blank lines are skipped, as csv.DictReader does
                        yield first, self._padded(row, width)
                start = len(chunk.lines)
            except csv.Error:
                # Re-read what the failed row took, a line at a time: good lines load, bad ones are reported.
                failed_from, failed_to = start + done, start + max(reader.line_num, done + 1)
                for index in range(failed_from, failed_to):
                    line = chunk.first_line + index
                    try:
                        rows = list(csv.reader([chunk.lines[index]], strict=True))
                    except csv.Error as exc:
                        summary.lines += 1
                        summary.reject(line, f"not a CSV row: {exc}")
                        continue
                    for row in rows:
                        if row:
                            yield line, self._padded(row, width)
                start = failed_to

    @staticmethod
    def _padded(row: list[str], width: int) -> list[str]:
        if len(row) != width:  # short rows read as "", fields past the header are ignored
            row = (row + [""] * width)[:width]
        row.append("")  # the column a header lacks
        return row
