"""`srguard stack up|status|down` as a user runs it, and no orphans when the parent dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from confluent_kafka.admin import AdminClient

pytestmark = pytest.mark.e2e


def _running(pid: int) -> bool:
    """A live process; a zombie waiting for its parent to reap it is not one."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _partitions(admin: AdminClient, topic: str, timeout_s: float = 30.0) -> dict:
    """The topic's partitions once every one has a leader in the metadata: the three nodes learn of a new topic
    one after another, so an answer from a node that has not yet is empty (a test once read it and failed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
        if partitions and all(p.leader >= 0 for p in partitions.values()):
            return partitions
        assert time.monotonic() < deadline, f"{topic}'s partitions never all showed a leader in the metadata"
        time.sleep(0.2)


def _srguard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "processor", *args], capture_output=True, text=True, timeout=120)


def test_stack_up_status_down(tmp_path):
    state_file = tmp_path / "stack.json"
    up = _srguard("stack", "up", "--state-file", str(state_file), "--json")
    assert up.returncode == 0, up.stderr
    addresses = json.loads(up.stdout)
    pids = [s["pid"] for s in json.loads(state_file.read_text())["services"]]
    try:
        assert redis.Redis.from_url(addresses["redis_url"]).ping()
        metadata = AdminClient({"bootstrap.servers": addresses["kafka_bootstrap"]}).list_topics(timeout=10)
        assert metadata.brokers, "the broker answered metadata with no brokers"
        status = _srguard("stack", "status", "--state-file", str(state_file))
        assert status.returncode == 0 and status.stdout.count("running") == 2, status.stdout
        described = json.loads(_srguard("stack", "status", "--state-file", str(state_file), "-o", "json").stdout)
        assert {s["name"] for s in described["services"] if s["running"]} == {"kafka", "redis"}
        again = _srguard("stack", "up", "--state-file", str(state_file))
        assert again.returncode == 2 and "already running" in again.stderr
        env = _srguard("stack", "up", "--state-file", str(state_file), "--env")  # a second shell's eval
        assert env.returncode == 0 and f"export KAFKA_BOOTSTRAP_SERVERS={addresses['kafka_bootstrap']}" in env.stdout
    finally:
        down = _srguard("stack", "down", "--state-file", str(state_file))
    assert down.returncode == 0 and "redis" in down.stdout and "kafka" in down.stdout
    assert not state_file.exists()
    deadline = time.monotonic() + 10
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(p) for p in pids), "stack down left a process behind"
    assert _srguard("stack", "status", "--state-file", str(state_file)).returncode == 1


def test_attached_stack_dies_with_a_killed_parent(tmp_path):
    script = (
        "import json,time\nfrom processor.devkit.stack import EmbeddedStack\n"
        "s = EmbeddedStack().__enter__()\n"
        "print(json.dumps([x.pid for x in s.state.services]), flush=True)\ntime.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pids = json.loads(parent.stdout.readline())
    assert all(_running(p) for p in pids)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(p) for p in pids), "children outlived their killed parent"


@pytest.mark.slow
def test_stack_up_with_three_brokers_is_a_replicated_cluster(tmp_path):
    """`--brokers 3`: three KRaft nodes; `topics create` makes srguard's topics with three replicas by default;
    a topic with RF 3 keeps writing with one node down (min ISR 2)."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import NewTopic

    state_file = tmp_path / "stack.json"
    up = _srguard("stack", "up", "--brokers", "3", "--broker", "kafka", "--state-file", str(state_file), "--json")
    assert up.returncode == 0, up.stderr
    bootstrap = json.loads(up.stdout)["kafka_bootstrap"]
    services = json.loads(state_file.read_text())["services"]
    try:
        assert len(bootstrap.split(",")) == 3 and [s["name"] for s in services].count("redis") == 1
        admin = AdminClient({"bootstrap.servers": bootstrap})
        assert len(admin.list_topics(timeout=10).brokers) == 3
        created = _srguard("topics", "create", "--bootstrap-servers", bootstrap)
        assert created.returncode == 0, created.stderr
        assert {len(p.replicas) for p in _partitions(admin, "dcc.sr.requests").values()} == {3}
        admin.create_topics([NewTopic("replicated", 1, 3)])["replicated"].result(30)
        leader = _partitions(admin, "replicated")[0].leader
        name = "kafka" if leader == 1 else f"kafka-{leader}"  # nodes 1, 2, 3 are kafka, kafka-2, kafka-3
        node = next(s for s in services if s["name"] == name)
        os.kill(node["pid"], signal.SIGKILL)  # one of three down: two in sync are still enough to write
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 60000})
        delivered: list[object] = []
        producer.produce("replicated", b"still written", on_delivery=lambda err, msg: delivered.append(err))
        producer.flush(60)
        assert delivered == [None]
    finally:
        down = _srguard("stack", "down", "--state-file", str(state_file))
    assert down.returncode == 0, down.stdout
    assert not any(_running(s["pid"]) for s in services)
