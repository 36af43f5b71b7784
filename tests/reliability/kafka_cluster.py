"""A three-node Apache Kafka cluster of the test's own (KRaft, every node broker and controller, RF 3, min ISR 2),
whose nodes are stopped, killed, frozen and started again on their ports with their data: the faults of a
maintenance window, on loopback."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient

from processor.devkit.stack import apache_kafka, free_port

# What a KRaft node logs when it becomes the quorum leader (the active controller), with the election epoch.
LEADER = re.compile(r"\[RaftManager id=(?P<node>\d+)\] Completed transition to Leader\(.*?epoch=(?P<epoch>\d+),")


class KafkaCluster:
    def __init__(self, workdir: Path, size: int = 3) -> None:
        self.workdir = workdir
        self.nodes = [apache_kafka.Node(n, free_port(), free_port()) for n in range(1, size + 1)]
        cluster = apache_kafka.cluster_id()
        self.argv = {n.id: apache_kafka.prepare(self.folder(n.id), n, self.nodes, cluster) for n in self.nodes}
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def folder(self, node: int) -> Path:
        return self.workdir / f"node-{node}"

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start_all(self, timeout: float = 120) -> None:
        for node in self.nodes:
            self.start(node.id, wait=False)
        self.wait_brokers(len(self.nodes), timeout)

    def start(self, node: int, wait: bool = True, timeout: float = 120) -> float:
        """Start a node (again); with ``wait``, until the cluster sees it: returns the seconds that took."""
        started = time.monotonic()
        with (self.folder(node) / "kafka-stdout.log").open("ab") as out:
            self.processes[node] = subprocess.Popen(
                self.argv[node], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        if wait:
            self.wait_brokers(len(self.nodes), timeout)
        return time.monotonic() - started

    def stop(self, node: int, how: signal.Signals = signal.SIGTERM, timeout: float = 90) -> None:
        """SIGTERM: a controlled shutdown (leadership handed over); SIGKILL: a crash."""
        process = self.processes.pop(node)
        process.send_signal(how)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)

    def freeze(self, node: int) -> None:
        self.processes[node].send_signal(signal.SIGSTOP)

    def thaw(self, node: int) -> None:
        self.processes[node].send_signal(signal.SIGCONT)

    def stop_all(self) -> None:
        for node in list(self.processes):
            with contextlib.suppress(ProcessLookupError):
                self.thaw(node)
            self.stop(node, signal.SIGKILL)

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 2000, "log_level": 0})

    def wait_brokers(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if len(self.admin().list_topics(timeout=2).brokers) >= count:
                    return
            time.sleep(0.5)
        raise TimeoutError(f"fewer than {count} brokers registered after {timeout:.0f}s: see {self.workdir}")

    def leader(self, topic: str, partition: int = 0) -> int:
        return int(self.admin().list_topics(topic, timeout=10).topics[topic].partitions[partition].leader)

    def in_sync(self, topic: str) -> bool:
        """Every partition of ``topic`` has all its replicas in sync again."""
        found = self.admin().list_topics(topic, timeout=10).topics[topic].partitions.values()
        return all(len(p.isrs) == len(p.replicas) for p in found)

    def active_controller(self) -> int:
        """The KRaft quorum's leader: the node whose Raft log says it became leader at the highest epoch."""
        found: list[tuple[int, int]] = []
        for node in self.nodes:
            log = self.folder(node.id) / "kafka-server.log"
            for line in log.read_text(errors="replace").splitlines() if log.is_file() else ():
                if match := LEADER.search(line):
                    found.append((int(match["epoch"]), int(match["node"])))
        assert found, f"no node's log says it leads the quorum: see {self.workdir}"
        return max(found)[1]
