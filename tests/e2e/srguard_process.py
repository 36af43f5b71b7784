"""Run `srguard run` as a user does, and read what it wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from processor.config import Topics
from processor.devkit.simulate.population import MeterPoint, Population, build_population
from processor.devkit.simulate.publish import publish_reference_data, publish_traffic
from processor.devkit.simulate.traffic import LabelledSR, TrafficGenerator, TrafficMix
from processor.devkit.stack import free_port
from processor.domain.certificates import KeyUsage
from processor.domain.model import (
    CertificateUsage,
    DeviceType,
    RemotePartyRole,
    ReplacementCertificate,
    ServiceRequest,
    UserRole,
)
from processor.kafka.topics import create_topics, topic_layout
from processor.registration.store import RegistrationStore
from tests.kafka_io import read_all

PARTITIONS = 3


@dataclass
class World:
    kafka: str
    redis: str
    unique: str
    workdir: Path
    population: Population
    replication: int = 1  # 3 on a replicated cluster
    topics: Topics = field(init=False)
    trust_store: Path = field(init=False)

    def __post_init__(self) -> None:
        self.topics = Topics(**{name: f"{value}.{self.unique}" for name, value in Topics().model_dump().items()})
        self.trust_store = self.workdir / "oca.pem"
        self.trust_store.write_bytes(self.population.pki.oca_pem())
        create_topics(
            AdminClient({"bootstrap.servers": self.kafka}), topic_layout(self.topics), PARTITIONS, self.replication
        )
        self.producer = Producer({"bootstrap.servers": self.kafka, "linger.ms": 10, "enable.idempotence": True})
        publish_reference_data(self.producer, self.topics, self.population)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "SRGUARD_BOOTSTRAP_SERVERS": self.kafka,
            "SRGUARD_REDIS_URL": self.redis,
            "SRGUARD_REDIS_KEY_PREFIX": f"run{self.unique}",
            "SRGUARD_REGISTRATION_BUCKETS": "1024",
            "SRGUARD_GROUP_ID": f"g{self.unique}",
            "SRGUARD_TRUST_STORE": str(self.trust_store),
            "SRGUARD_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "SRGUARD_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            "SRGUARD_BATCH_TIMEOUT_MS": "50",
        }
        env |= {f"SRGUARD_TOPICS__{name.upper()}": value for name, value in self.topics.model_dump().items()}
        return {**os.environ, **env, **extra}

    def registered_operator(self, mpxn: str, at: int) -> str | None:
        """The NO srguard's Redis holds for ``mpxn`` at ``at`` (what the feed has applied so far)."""
        store = RegistrationStore(redis.Redis.from_url(self.redis), f"run{self.unique}", 1024)
        found = store.lookup_many([(mpxn, at)])[0]
        return found.network_operator_id if found else None

    def traffic(self, count: int, seed: int = 1, mix: TrafficMix | None = None) -> list[LabelledSR]:
        mix = mix or TrafficMix(in_scope=0.3, incident_rate=0.3, exempt=0.02, other_role_certificates=0.02)
        return TrafficGenerator(self.population, mix, seed=seed).take(count)

    def handover(self, point: MeterPoint, operator: str, submitted: int, counter: int) -> ServiceRequest:
        """A supplier's SR 6.21 placing ``operator``'s NO certificates on ``point``'s device."""
        supplier = self.population.suppliers["BGAS"]
        org = self.population.network_operators[operator]
        certs = tuple(
            ReplacementCertificate(usage, org.certificates[key])
            for usage, key in (
                (CertificateUsage.DIGITAL_SIGNING, KeyUsage.DIGITAL_SIGNATURE),
                (CertificateUsage.KEY_AGREEMENT, KeyUsage.KEY_AGREEMENT),
            )
        )
        device = DeviceType.GPF if point.device_type is DeviceType.GPF else DeviceType.ESME
        return ServiceRequest(
            f"{supplier.entity_id}:{point.device_id}:{counter}",
            "6.21",
            1,
            supplier.entity_id,
            UserRole.IS if device is DeviceType.ESME else UserRole.GS,
            point.device_id,
            device,
            point.mpxn,
            RemotePartyRole.NETWORK_OPERATOR,
            certs,
            submitted,
        )

    def publish(self, items: Iterable[LabelledSR], sr_time: bool = False) -> None:
        publish_traffic(self.producer, self.topics.requests, items, sr_time=sr_time)

    def outputs(self, topic: str, expect: int, timeout: float = 60) -> list:
        return read_all(self.kafka, topic, expect, timeout=timeout, partitions=PARTITIONS, isolation="read_committed")


@dataclass
class Stack:
    """What SrguardRun needs of a world made by the test itself: the broker, Redis, a folder, srguard's
    topics (created with a unique suffix) and the settings for this run, each keyed by name."""

    kafka: str
    redis: str
    workdir: Path
    name: str  # key prefix and group id
    settings: dict[str, str] = field(default_factory=dict)
    topics: Topics = field(init=False)

    def __post_init__(self) -> None:
        self.topics = Topics(**{name: f"{value}.{self.name}" for name, value in Topics().model_dump().items()})
        create_topics(AdminClient({"bootstrap.servers": self.kafka}), topic_layout(self.topics), PARTITIONS, 1)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "SRGUARD_BOOTSTRAP_SERVERS": self.kafka,
            "SRGUARD_REDIS_URL": self.redis,
            "SRGUARD_REDIS_KEY_PREFIX": self.name,
            "SRGUARD_GROUP_ID": self.name,
            "SRGUARD_REGISTRATION_BUCKETS": "64",
            "SRGUARD_DEVICE_BUCKETS": "64",
            "SRGUARD_BATCH_TIMEOUT_MS": "50",
            **self.settings,
        }
        env |= {f"SRGUARD_TOPICS__{name.upper()}": value for name, value in self.topics.model_dump().items()}
        return {**os.environ, **env, **extra}


def make_world(
    kafka: str, redis: str, unique: str, workdir: Path, meter_points: int = 1500, replication: int = 1
) -> World:
    return World(kafka, redis, unique, workdir, build_population(seed=5, meter_points=meter_points), replication)


class SrguardRun:
    def __init__(
        self,
        world: World | Stack,
        *args: str,
        entry: tuple[str, ...] = ("processor",),
        command: str = "run",
        **env: str,
    ) -> None:
        """``entry``: the module to run with ``python -m`` and its leading arguments (a test's fault wrapper);
        ``command``: ``run``, or ``feed`` (the same endpoint, its own metrics)."""
        self.port = free_port()
        self.log = world.workdir / f"srguard-{command}-{self.port}.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", *entry, command, *args],
            env=world.env(SRGUARD_METRICS_PORT=str(self.port), **env),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"srguard exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"srguard not ready after {timeout}s:\n{self.log.read_text()[-3000:]}")

    def metric(self, name: str) -> float:
        """Sum of a metric's samples (all labels) from /metrics."""
        _, body = self.get("/metrics")
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in body.splitlines()
            if line.startswith(name) and not line.startswith("#") and (line[len(name)] in "{ ")
        )

    def wait_consumed(self, count: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.metric("srguard_sr_consumed_total") < count:
            if self.process.poll() is not None:
                raise AssertionError(f"srguard exited:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self, timeout: float = 40) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self._log_file.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self._log_file.close()


def srguard(stack: Stack, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """One `srguard` command in ``stack``'s settings, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "processor", *args],
        env=stack.env(COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


def simulated_and_judged(stack: Stack, world: list[str], srs: int, cwd: Path) -> None:
    """`simulate publish` ``world`` (``srs`` SRs) into ``stack``, then `srguard run` until it consumed them all."""
    published = srguard(stack, "simulate", "publish", *world, "--srs", str(srs), cwd=cwd)
    assert published.returncode == 0, published.stderr[-2000:]
    stack.settings["SRGUARD_TRUST_STORE"] = str(cwd / "srguard-simulated-oca.pem")
    run = SrguardRun(stack)
    run.wait_ready(120)
    run.wait_consumed(srs, timeout=300)
    assert run.stop() == 0
