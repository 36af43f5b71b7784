"""An Apache Kafka broker (one KRaft node) of the test's own, stopped and started again on the same ports with
its log dirs kept: what a graceful restart, or a SIGKILL and restart, does to the clients of a real broker."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient

from processor.devkit.stack import apache_kafka, free_port


class RestartableKafka:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port, self.controller_port = free_port(), free_port()
        self.argv = apache_kafka.prepare(workdir, apache_kafka.Node(1, self.port, self.controller_port))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> float:
        """Start (again) and wait until it answers; returns the seconds that took."""
        started = time.monotonic()
        with (self.workdir / "kafka-stdout.log").open("ab") as out:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 1000, "log_level": 0})
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"the broker exited with {self.process.returncode}: see {self.workdir}")
            with contextlib.suppress(Exception):
                if admin.list_topics(timeout=1).brokers:
                    return time.monotonic() - started
            time.sleep(0.2)
        raise TimeoutError(f"the broker did not answer within {timeout:.0f}s")

    def stop(self, how: signal.Signals = signal.SIGTERM, timeout: float = 60) -> None:
        """SIGTERM: a graceful shutdown (leadership moved, logs flushed); SIGKILL: a crash."""
        if self.process is None:
            return
        self.process.send_signal(how)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
        self.process = None
