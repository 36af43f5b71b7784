from __future__ import annotations

import os
import subprocess
import sys

import pytest
from confluent_kafka.admin import AdminClient

pytestmark = pytest.mark.e2e


def test_topics_create_makes_every_topic_once(kafka_bootstrap, unique):
    names = {
        "REQUESTS": "dcc.sr.requests",
        "REGISTRATIONS": "dcc.registration.changes",
        "PARTIES": "dcc.party.directory",
        "DEVICES": "dcc.device.inventory",
        "ACCEPTED": "dcc.sr.accepted",
        "REJECTED": "dcc.sr.rejected",
        "AUDIT": "dcc.sr.audit",
        "DLQ": "dcc.sr.dlq",
        "RESPONSES": "dcc.sr.responses",
    }
    env = {
        **os.environ,
        "SRGUARD_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "COLUMNS": "200",
        **{f"SRGUARD_TOPICS__{k}": f"{v}.{unique}" for k, v in names.items()},
    }
    command = [sys.executable, "-m", "processor", "topics", "create", "--partitions", "4"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created") == 9 and "(compacted)" in first.stdout
    metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)
    for name in names.values():
        assert len(metadata.topics[f"{name}.{unique}"].partitions) == 4
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and second.stdout.count("exists") == 9


def test_topics_create_names_the_unreachable_broker():
    env = {**os.environ, "SRGUARD_BOOTSTRAP_SERVERS": "127.0.0.1:1", "SRGUARD_KAFKA_SOCKET_TIMEOUT_MS": "2000"}
    result = subprocess.run(
        [sys.executable, "-m", "processor", "topics", "create"], env=env, capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 2 and "127.0.0.1:1" in result.stderr
