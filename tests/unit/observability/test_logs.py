"""librdkafka's logs through srguard's: a warning about what librdkafka retries through on its own is info."""

from __future__ import annotations

import logging

import pytest

from processor.observability.logs import TransientFilter

GETPID = "GETPID [rdkafka#producer-3]: Failed to acquire idempotence PID: Coordinator load in progress: retrying"


def _record(message: str, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("srguard.kafka", level, __file__, 1, message, None, None)


@pytest.fixture
def root_level():
    """Sets the root logger's level for one test, then puts it back."""
    root = logging.getLogger()
    before = root.level
    yield root.setLevel
    root.setLevel(before)


def test_a_transient_retry_is_info_and_hidden_at_warning_level(root_level):
    root_level(logging.WARNING)
    record = _record(GETPID)
    assert TransientFilter().filter(record) is False and record.levelname == "INFO"
    root_level(logging.INFO)
    assert TransientFilter().filter(_record(GETPID)) is True


def test_any_other_warning_stays_a_warning(root_level):
    root_level(logging.WARNING)
    record = _record("Connect to ipv4#127.0.0.1:9092 failed: Connection refused")
    assert TransientFilter().filter(record) is True and record.levelno == logging.WARNING


def test_partitions_read_as_text_not_as_python_reprs():
    from processor.kafka.records import partitions_text

    assert partitions_text({("t", 2), ("t", 0), ("u", 1)}) == "t 0, 2; u 1"
    assert partitions_text({("t", 0): 120, ("t", 1): 98}) == "t 0@120, 1@98"
    assert partitions_text(set()) == "none"
