"""A stack's record of its processes (the ``stack up`` state file), and stopping them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from processor.errors import StackError

STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Service:
    name: str
    pid: int
    address: str
    executable: str
    log: str


@dataclass
class StackState:
    services: list[Service] = field(default_factory=list)
    workdir: str = ""
    broker: str = ""  # "apache-kafka <version>" or "tansu"
    broker_start_seconds: float = 0.0
    secure: str = ""  # a secured stack's folder of certificates and per-principal configs ("": plaintext)

    @property
    def kafka_bootstrap(self) -> str:
        """Every broker's address (a cluster's nodes are kafka, kafka-2, kafka-3)."""
        found = [s.address for s in self.services if s.name == "kafka" or s.name.startswith("kafka-")]
        if not found:
            raise StackError("no kafka in this stack")
        return ",".join(found)

    @property
    def redis_url(self) -> str:
        """The address (a secured stack's credentials are in its per-principal configs, never here)."""
        return f"{'rediss' if self.secure else 'redis'}://{self._address('redis')}/0"

    def _address(self, name: str) -> str:
        for service in self.services:
            if service.name == name:
                return service.address
        raise StackError(f"no {name} in this stack")

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> StackState:
        data = json.loads(path.read_text())
        return cls(
            services=[Service(**s) for s in data["services"]],
            workdir=data["workdir"],
            broker=data.get("broker", ""),
            broker_start_seconds=data.get("broker_start_seconds", 0.0),
            secure=data.get("secure", ""),
        )


def default_state_file() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "srguard" / "stack.json"


def is_alive(service: Service) -> bool:
    """True when the pid still runs the executable we started (pids get reused)."""
    try:
        exe = os.readlink(f"/proc/{service.pid}/exe")
    except OSError:  # gone, or a zombie waiting for its parent
        return False
    # Debian's redis-server is a symlink to redis-check-rdb: compare resolved paths.
    return Path(exe) == Path(service.executable).resolve()


def stop_services(services: list[Service]) -> list[str]:
    """SIGTERM every live service, SIGKILL what is still there after the bound; names stopped."""
    live = [s for s in services if is_alive(s)]
    for service in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(service.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        for service in live:
            _reap(service.pid)
        if not any(is_alive(s) for s in live):
            break
        time.sleep(0.05)
    for service in live:
        if is_alive(service):
            with contextlib.suppress(ProcessLookupError):
                os.kill(service.pid, signal.SIGKILL)
            _reap(service.pid)
    return [s.name for s in live]


def _reap(pid: int) -> None:
    """Collect a child of ours that exited, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def print_state(state: StackState, console: Console) -> None:
    """The services as a table, then the exports a shell can paste (plain, for copying)."""
    table = Table("service", "address", "pid", "state", "log")
    for service in state.services:
        table.add_row(
            service.name,
            service.address,
            str(service.pid),
            "running" if is_alive(service) else "[red]stopped[/]",
            service.log,
        )
    console.print(table)
    if state.broker:
        console.print(f"broker: {state.broker} (answered after {state.broker_start_seconds:.1f}s)")
    for line in exports(state):
        print(line)


def exports(state: StackState) -> list[str]:
    """Shell lines that point srguard, the tests and the benchmarks at the stack: ``eval "$(...)"``."""
    if state.secure:  # srguard reads the principal's config file: no password in any environment
        folder = Path(state.secure)
        return [
            f"export SRGUARD_CONFIG={folder / 'srguard-run.toml'} KAFKA_BOOTSTRAP_SERVERS={state.kafka_bootstrap}",
            f"# other principals: SRGUARD_CONFIG={folder}/{{admin,srguard-feed,srguard-analyst,srguard-run-mtls}}.toml",
        ]
    lines = []
    if any(s.name == "kafka" for s in state.services):
        bootstrap = state.kafka_bootstrap
        lines.append(f"export KAFKA_BOOTSTRAP_SERVERS={bootstrap} SRGUARD_BOOTSTRAP_SERVERS={bootstrap}")
    if any(s.name == "redis" for s in state.services):
        lines.append(f"export REDIS_URL={state.redis_url} SRGUARD_REDIS_URL={state.redis_url}")
    return lines
