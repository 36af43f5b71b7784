"""The status `srguard feed` publishes, as a processor with embedded_feed = false reads it (the Redis
round trip itself is in tests/e2e/test_one_feed.py)."""

from __future__ import annotations

import time

from processor.observability.feed import FeedStatus, feed_stalled
from processor.registration.feed_status import WatchedFeed, publish_status


class Hash:
    """One Redis hash, as much of a client as publish_status and WatchedFeed use."""

    def __init__(self) -> None:
        self.fields: dict[bytes, bytes] = {}

    def hset(self, key: str, mapping: dict[str, object]) -> None:
        self.fields = {k.encode(): str(v).encode() for k, v in mapping.items()}

    def hgetall(self, key: str) -> dict[bytes, bytes]:
        return dict(self.fields)


def test_a_published_status_reads_back_and_its_age_is_its_heartbeat():
    client = Hash()
    watched = WatchedFeed(client, "k")  # type: ignore[arg-type]
    watched.refresh()
    assert not watched.status.ready and "no status in Redis" in watched.status.waiting_for[0]
    publish_status(client, "k", FeedStatus(ready=True, lag_records=3, lag_seconds=1.5, applied=10))  # type: ignore[arg-type]
    watched.refresh()
    assert (watched.status.ready, watched.status.lag_records, watched.status.applied) == (True, 3, 10)
    assert feed_stalled(watched.status, 5.0) is None
    client.fields[b"published_ms"] = str(int(time.time() * 1000) - 60_000).encode()  # a feed gone a minute
    watched.refresh()
    assert "stalled for 60s" in (feed_stalled(watched.status, 5.0) or "")


def test_a_stopped_feed_is_not_ready_and_a_garbled_status_is_ignored():
    client = Hash()
    watched = WatchedFeed(client, "k")  # type: ignore[arg-type]
    publish_status(client, "k", FeedStatus(ready=True, failed="RuntimeError: boom"))  # type: ignore[arg-type]
    watched.refresh()
    assert not watched.status.ready and watched.status.waiting_for == ["srguard feed stopped (RuntimeError: boom)"]
    for garbage in ({b"ready": b"1"}, {**client.fields, b"lag_records": b"lots"}, {b"\xff": b"\xfe"}):
        client.fields = garbage
        watched.refresh()  # never raises: the watcher's thread must not die on someone else's bytes
        assert not watched.status.ready
