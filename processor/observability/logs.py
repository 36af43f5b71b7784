"""srguard's logs: one stderr handler, text or JSON lines, librdkafka's own logs routed through it.

librdkafka logs every failed connection attempt (about 40 lines a second with the broker down); those
repeat, so a repeat of the same kind of line within REPEAT_WINDOW_S is held back and counted, and the
next line of that kind that gets through says how many were held back.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from enum import StrEnum

from redis.exceptions import NoPermissionError

from processor import names

KAFKA_LOGGER = logging.getLogger(names.KAFKA_LOGGER)
REPEAT_WINDOW_S = 30.0
_NUMBERS = re.compile(r"\d+")


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)  # a line's own figures, as values rather than text
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class RepeatFilter(logging.Filter):
    """Holds back repeats of a line (same logger, level and text but for numbers) within a window."""

    def __init__(self, window_s: float = REPEAT_WINDOW_S) -> None:
        super().__init__()
        self.window_s = window_s
        self._last: dict[tuple[str, int, str], tuple[float, int]] = {}  # kind -> (last let through, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, _NUMBERS.sub("#", record.getMessage()))
        now = time.monotonic()
        seen = self._last.get(kind)
        if seen is not None and now - seen[0] < self.window_s:
            self._last[kind] = (seen[0], seen[1] + 1)
            return False
        held = seen[1] if seen else 0
        if held:
            record.msg = f"{record.getMessage()} (+{held} like it in the last {self.window_s:.0f}s)"
            record.args = None
        if len(self._last) > 1000:  # bounded: kinds are few, but numbers-free text can still vary
            self._last.clear()
        self._last[kind] = (now, 0)
        return True


# librdkafka warnings about a state it retries through on its own (a broker just started loads its
# coordinators): not an operator's concern, so logged at info.
TRANSIENT = ("Coordinator load in progress: retrying",)


class TransientFilter(logging.Filter):
    """librdkafka's warnings about what it retries through on its own, demoted to info."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and any(t in record.getMessage() for t in TRANSIENT):
            record.levelno, record.levelname = logging.INFO, "INFO"
            return logging.getLogger().isEnabledFor(logging.INFO)
        return True


class DenialTap(logging.Filter):
    """Remembers librdkafka's last report of the broker refusing an operation for want of an ACL: a transaction
    failing for it reaches srguard as a later call's state error, its cause (and the topic) only in this line."""

    last: tuple[float, str] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "authorization failed" in message.lower():
            DenialTap.last = (time.monotonic(), message)
        return True


def recent_denial(within_s: float = 30.0) -> str | None:
    """The broker's last refusal librdkafka logged in the last ``within_s`` seconds, or None."""
    seen = DenialTap.last
    return seen[1] if seen is not None and time.monotonic() - seen[0] <= within_s else None


def configure(level: LogLevel = LogLevel.INFO, fmt: LogFormat = LogFormat.TEXT) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    KAFKA_LOGGER.filters.clear()
    KAFKA_LOGGER.addFilter(DenialTap())
    KAFKA_LOGGER.addFilter(TransientFilter())
    KAFKA_LOGGER.addFilter(RepeatFilter())


def redis_denied_text(exc: Exception, component: str) -> str | None:
    """'permission denied by Redis: ...' when Redis refused a command to this ACL user, else None."""
    if not isinstance(exc, NoPermissionError):
        return None
    return (
        f"permission denied by Redis ({exc}): the ACL user srguard connects as lacks what {component} needs; "
        "README 'Security' lists each component's Redis rule"
    )
