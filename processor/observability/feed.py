"""The reference feed as the rest of srguard sees it: its status, how stuck it is, and the interface a processor
watches it through (its own feed in-process, or the status another process publishes in Redis)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class FeedStatus:
    ready: bool = False
    lag_records: int = 0
    lag_seconds: float = 0.0
    applied: int = 0
    rejected: int = 0
    partitions: int = 0
    waiting_for: list[str] = field(default_factory=list)
    paused_cause: str | None = None  # set while Redis refuses the writes; the batch is re-read later
    rebuilds: int = 0  # times Redis was found without its reference data and rebuilt from the topics
    failed: str | None = None  # set when the feed's loop ended on an error: the view is frozen
    heartbeat: float = 0.0  # time.monotonic() at the end of the last poll


def waiting_text(status: FeedStatus) -> str:
    """What a feed that is not ready waits for, as a line: why it is held, else its partitions not yet read to
    the end ('dcc.party.directory 0, 1; dcc.device.inventory 4'), never a list of every partition's name."""
    if status.paused_cause:
        return f"reference feed held: {status.paused_cause}"
    by_topic: dict[str, list[str]] = {}
    for item in status.waiting_for:
        topic, _, partition = item.rpartition(":")
        if topic and partition.isdigit():
            by_topic.setdefault(topic, []).append(partition)
        else:
            by_topic.setdefault(item, [])
    shown = "; ".join(f"{t} {', '.join(p)}" if p else t for t, p in by_topic.items())
    return f"reference feed catching up: waiting for {shown or 'its first batch'}"


def feed_stalled(status: FeedStatus, bound_s: float) -> str | None:
    """Why the feed counts as stuck (no poll, or no status published, for ``bound_s``), or None."""
    if not status.heartbeat:
        return None
    stalled = time.monotonic() - status.heartbeat
    return f"reference feed stalled for {stalled:.0f}s (bound {bound_s:.0f}s)" if stalled > bound_s else None


class FeedView(Protocol):
    """What a processor knows its registration view's freshness by: ``ReferenceFeed`` or ``WatchedFeed``."""

    in_process: bool  # this process's own feed: its failures are this process's
    status: FeedStatus
    on_batch: Callable[[FeedStatus], None] | None

    def start(self) -> None: ...

    def run(self, stop: threading.Event) -> None: ...

    def wait_ready(self, timeout: float, stop: threading.Event | None = None) -> bool: ...

    def close(self) -> None: ...
