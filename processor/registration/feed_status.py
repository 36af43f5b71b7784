"""The reference feed's status, shared through Redis: one feed writes the reference data, many
processors read it.

Every processor may run its own feed (``embedded_feed = true``, the default: one process, nothing else
to run). With many processors on one Redis that makes many writers, and a writer that lags re-applies
records another has since withdrawn until it catches up. So a deployment runs one ``srguard feed`` and
its processors with ``embedded_feed = false``: the feed publishes its status after every batch
(``publish_status``), and each processor watches it (``WatchedFeed``) to know when it may decide, when
it must pause, and what /readyz says.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from processor.observability.feed import FeedStatus, feed_stalled, waiting_text
from processor.registration.buckets import RedisClient, as_bytes
from processor.registration.feed import ReferenceFeed

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 1.0


def feed_liveness(feed: ReferenceFeed, bound_s: float) -> tuple[bool, str]:
    """/healthz of `srguard feed`: its loop has not ended and still polls."""
    if feed.status.failed:
        return False, f"reference feed stopped: {feed.status.failed}"
    stalled = feed_stalled(feed.status, bound_s)
    return (False, stalled) if stalled else (True, "ok")


def feed_readiness(feed: ReferenceFeed, bound_s: float) -> tuple[bool, str]:
    """/readyz of `srguard feed`: alive and caught up once since start."""
    alive, why = feed_liveness(feed, bound_s)
    if not alive:
        return False, why
    if not feed.status.ready:
        return False, waiting_text(feed.status)
    return True, f"ready: {feed.status.applied} records applied, {feed.status.lag_records} behind"


def publish_status(client: RedisClient, key: str, status: FeedStatus) -> None:
    """The feed's status with the wall-clock time it was taken (processors judge its age by it)."""
    client.hset(
        key,
        mapping={
            "ready": int(status.ready),
            "lag_records": status.lag_records,
            "lag_seconds": status.lag_seconds,
            "applied": status.applied,
            "rejected": status.rejected,
            "waiting_for": ",".join(status.waiting_for),
            "paused": status.paused_cause or "",
            "failed": status.failed or "",
            "rebuilds": status.rebuilds,
            "published_ms": int(time.time() * 1000),
        },
    )


class WatchedFeed:
    """A feed running in another process, seen through the status it publishes in Redis.

    Its heartbeat is the time of the last publication: a feed that stops publishing (stopped, stuck,
    or gone) ages past ``liveness_timeout_s`` and the processor pauses. It never sets ``failed``: a
    feed pod that fails is restarted by its orchestrator, and this processor only has to wait."""

    in_process = False

    def __init__(
        self,
        client: RedisClient,
        key: str,
        on_batch: Callable[[FeedStatus], None] | None = None,
        interval_s: float = WATCH_INTERVAL_S,
    ) -> None:
        self.client = client
        self.key = key
        self.on_batch = on_batch
        self.interval_s = interval_s
        self.status = FeedStatus(waiting_for=[f"srguard feed: no status in Redis at {key} yet"])

    def start(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        try:
            raw = {as_bytes(k).decode(): as_bytes(v).decode() for k, v in self.client.hgetall(self.key).items()}
        except (RedisError, UnicodeDecodeError) as exc:  # the heartbeat ages: past the bound the processor pauses
            log.warning("cannot read the feed's status at %s: %s", self.key, exc)
            return
        if not raw:
            return
        status = self.status
        try:
            published_ms, lag_records, lag_seconds = (
                int(raw["published_ms"]),
                int(raw["lag_records"]),
                float(raw["lag_seconds"]),
            )
            applied, rejected, stopped = int(raw["applied"]), int(raw["rejected"]), raw["failed"]
        except (KeyError, ValueError) as exc:  # not what srguard feed writes: its age grows, the processor waits
            log.warning("the feed's status at %s is unreadable (%r): ignored", self.key, exc)
            return
        status.heartbeat = time.monotonic() - max(0.0, time.time() - published_ms / 1000)
        status.lag_records, status.lag_seconds = lag_records, lag_seconds
        status.applied, status.rejected = applied, rejected
        status.rebuilds = int(raw.get("rebuilds") or 0)
        status.paused_cause = raw.get("paused") or None
        status.ready = raw.get("ready") == "1" and not stopped
        status.waiting_for = (
            [f"srguard feed stopped ({stopped})"]
            if stopped
            else [p for p in raw.get("waiting_for", "").split(",") if p]
        )
        if self.on_batch:
            self.on_batch(status)

    def wait_ready(self, timeout: float, stop: threading.Event | None = None) -> bool:
        deadline = time.monotonic() + timeout
        self.refresh()
        while not self.status.ready and time.monotonic() < deadline and not (stop and stop.is_set()):
            time.sleep(self.interval_s)
            self.refresh()
        return self.status.ready

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            self.refresh()

    def close(self) -> None:
        """Nothing to release: the client is the stores'."""
