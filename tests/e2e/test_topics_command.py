from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from processor.names import Topics

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
        "SUSPECTS": "dcc.registration.suspects",
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
    assert first.stdout.count("created") == 10 and first.stdout.count("(every record kept)") == 3
    assert first.stdout.count("(compacted)") == 1
    metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)
    for name in names.values():
        assert len(metadata.topics[f"{name}.{unique}"].partitions) == 4
    second = subprocess.run([*command, "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert {t["result"] for t in json.loads(second.stdout)["topics"]} == {"exists"}


def test_topics_create_names_the_unreachable_broker():
    env = {**os.environ, "SRGUARD_BOOTSTRAP_SERVERS": "127.0.0.1:1", "SRGUARD_KAFKA_SOCKET_TIMEOUT_MS": "2000"}
    result = subprocess.run(
        [sys.executable, "-m", "processor", "topics", "create"], env=env, capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 2 and "127.0.0.1:1" in result.stderr


def test_a_compacted_reference_topic_is_refused_by_feed_and_fixed_by_topics_create(kafka_bootstrap, redis_url, unique):
    names = {k.upper(): f"{v}.{unique}" for k, v in Topics().model_dump().items()}
    env = {
        **os.environ,
        "SRGUARD_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SRGUARD_REDIS_URL": redis_url,
        "SRGUARD_REDIS_KEY_PREFIX": f"hist{unique}",
        "SRGUARD_METRICS_PORT": "0",
        "COLUMNS": "200",
        **{f"SRGUARD_TOPICS__{k}": v for k, v in names.items()},
    }
    create = [sys.executable, "-m", "processor", "topics", "create"]
    assert subprocess.run(create, env=env, capture_output=True, text=True, timeout=60).returncode == 0
    old_style = ConfigResource(
        ConfigResource.Type.TOPIC,
        names["PARTIES"],
        incremental_configs=[ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET)],
    )
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})  # kept: its futures die with it
    for future in admin.incremental_alter_configs([old_style]).values():
        future.result(timeout=30)
    feed = subprocess.run(
        [sys.executable, "-m", "processor", "feed"], env=env, capture_output=True, text=True, timeout=60
    )
    lines = [line for line in feed.stderr.splitlines() if line.strip() and "WARN" not in line and "INFO" not in line]
    assert feed.returncode == 2 and len(lines) == 1, feed.stderr[-2000:]
    assert (
        names["PARTIES"] in lines[0] and "cleanup.policy=compact" in lines[0] and "--fix-reference-topics" in lines[0]
    )
    flagged = subprocess.run(create, env=env, capture_output=True, text=True, timeout=60)
    assert flagged.returncode == 1 and "LOSES HISTORY" in flagged.stdout
    fixed = subprocess.run([*create, "--fix-reference-topics"], env=env, capture_output=True, text=True, timeout=60)
    assert fixed.returncode == 0 and "now keeps every record" in fixed.stdout, fixed.stdout + fixed.stderr
    found = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, names["PARTIES"])])
    (entries,) = [f.result(timeout=30) for f in found.values()]
    assert (entries["cleanup.policy"].value, entries["retention.ms"].value) == ("delete", "-1")
