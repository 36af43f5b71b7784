"""Times as srguard reads and shows them: epoch milliseconds inside, ISO 8601 UTC at the edges."""

from __future__ import annotations

import datetime as dt

from processor.errors import BadInput

FORMATS = "an ISO 8601 date or date-time, e.g. 2019-01-31 or 2019-01-31T12:00:00Z (UTC when no zone), or epoch ms"


def parse_time(text: str) -> int:
    """Epoch ms, or an ISO 8601 date / date-time (naive = UTC) -> epoch ms."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadInput(f"not a time: {text!r} ({FORMATS})") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def iso_utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")
