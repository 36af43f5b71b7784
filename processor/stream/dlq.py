"""The dead-letter queue: what goes there, what its records carry, and when too much of it stops srguard.

A dead letter keeps the SR's raw bytes and the input's headers, plus headers that say what failed and
where the record came from, so it can be inspected and replayed. Every record srguard writes fits the
output limit (``record_size``): a dead letter that would not is cut, and says so, and its source
coordinates still name the whole original on the input topic.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from processor.errors import DlqFlood
from processor.kafka.records import Input, Output
from processor.names import (
    ERROR_CLASS_HEADER,
    ERROR_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
    TRUNCATED_HEADER,
)

MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class DlqPolicy:
    """The DLQ flood limits, as data (their defaults: the settings, ``dlq_*``)."""

    max_consecutive: int  # this many dead-lettered SRs in a row stop the process
    max_ratio: float  # ... as does this share of dead-lettered SRs among the last `window`
    window: int


# librdkafka counts key, value and headers against message.max.bytes and adds its own framing; the
# broker adds the record batch's. This covers both with room to spare.
RECORD_OVERHEAD_BYTES = 512
HEADER_OVERHEAD_BYTES = 8


def record_size(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> int:
    """What a record counts against the producer's ``message.max.bytes``, with a margin."""
    size = RECORD_OVERHEAD_BYTES + len(key or b"") + len(value or b"")
    for name, header in headers:
        size += HEADER_OVERHEAD_BYTES + len(name) + len(header or b"")
    return size


def dead_letter(topic: str, item: Input, error: str, error_class: str, limit: int) -> Output:
    """The DLQ record for ``item``, never larger than ``limit``."""
    ours = [
        (ERROR_HEADER, error[:MAX_ERROR_CHARS].encode("utf-8", "replace")),
        (ERROR_CLASS_HEADER, error_class.encode()),
        (SOURCE_TOPIC_HEADER, item.source.topic.encode()),
        (SOURCE_PARTITION_HEADER, str(item.source.partition).encode()),
        (SOURCE_OFFSET_HEADER, str(item.source.offset).encode()),
    ]
    key, value, headers = item.key, item.value, [*item.headers, *ours]
    if record_size(key, value, headers) <= limit:
        return Output(topic, key, value, headers, item.timestamp)
    # Too large to keep whole: our headers stay, the input's go, the value is cut to what fits.
    headers = [*ours, (TRUNCATED_HEADER, str(len(value or b"")).encode())]
    if key is not None and len(key) > limit // 4:
        key = key[:1024]
    room = max(0, limit - record_size(key, b"", headers))
    return Output(topic, key, None if value is None else value[:room], headers, item.timestamp)


class DlqGuard:
    def __init__(self, policy: DlqPolicy) -> None:
        self.policy = policy
        self.consecutive = 0
        self._recent: deque[tuple[int, int]] = deque()  # (SRs, dead letters) per batch
        self._seen = self._dead = 0

    def observe(self, outcomes: list[bool]) -> None:
        """``outcomes``: per SR of a batch, in order, True when it went to the DLQ. Raises DlqFlood."""
        size, dead_count = len(outcomes), sum(outcomes)
        if not dead_count:  # the usual batch: nothing to walk through
            self.consecutive = 0
            outcomes = []
        for dead in outcomes:
            self.consecutive = self.consecutive + 1 if dead else 0
            if self.consecutive >= self.policy.max_consecutive:
                raise DlqFlood(
                    f"stopped by the DLQ flood limit: {self.consecutive} consecutive SRs were dead-lettered "
                    f"(limit {self.policy.max_consecutive}): is the producer writing another format?"
                )
        self._recent.append((size, dead_count))
        self._seen += size
        self._dead += dead_count
        while self._recent and self._seen - self._recent[0][0] >= self.policy.window:
            seen, dead_then = self._recent.popleft()
            self._seen -= seen
            self._dead -= dead_then
        if self._seen >= self.policy.window and self._dead / self._seen > self.policy.max_ratio:
            raise DlqFlood(
                f"stopped by the DLQ flood limit: {self._dead} of the last {self._seen} SRs were dead-lettered "
                f"(limit {self.policy.max_ratio:.0%})"
            )
