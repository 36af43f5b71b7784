"""The stream benchmarks' world on one broker and Redis: a generated population and its reference data,
the same SR traffic as Avro and as DUIS XML, Redis fed before any contender runs; and the settings every
contender gets alike."""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from cryptography.hazmat.primitives.serialization import Encoding

from processor.config import Topics, load_settings
from processor.devkit.simulate.duis import carried_by_duis, inventory, publish_duis_traffic
from processor.devkit.simulate.population import Population, build_population
from processor.devkit.simulate.publish import publish_reference_data, publish_traffic
from processor.devkit.simulate.traffic import LabelledSR, TrafficGenerator, TrafficMix
from processor.devkit.stack import EmbeddedStack, free_port
from processor.kafka.topics import create_topics, topic_layout
from processor.registration.publish import publish_devices

REPEATS = 3
PARTITIONS = 6
BATCH = 1000
SRS = int(os.environ.get("BENCH_SRS", "200000"))
# A broker of the user's instead of the embedded one (Apache Kafka, tansu as fallback); its CPU is then not measured.
EXTERNAL_BROKER = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
# Consumer settings of every contender (srguard, the relay, the peers) and of the latency reader.
# Apache Kafka answers a fetch as soon as data arrives, so this only bounds an empty fetch there. It was
# chosen for tansu (the fallback), which answers an empty fetch only after fetch.wait.max.ms and whose
# fetches cost time in proportion to the partition's length: relay p99 over 20 s runs on tansu, by the
# stage's wait: 10 ms -> 1.41 s, 50 -> 0.36 s, 500 (the default) -> 0.29-0.31 s, 100 -> 0.12-0.14 s.
READER: dict[str, object] = {"fetch.wait.max.ms": 100}
FAST_GROUP = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}
CONTENDER_CONSUMER: dict[str, object] = {"fetch.wait.max.ms": 100, **FAST_GROUP}
MIX = TrafficMix(in_scope=0.05, incident_rate=0.01)  # ~95% out of scope, ~5% in scope, ~1% of those incidents


def traffic(population: Population, seed: int, count: int) -> list[LabelledSR]:
    """``count`` SRs of MIX whose own fields agree with the device inventory the world publishes. The
    generator's others name a type or MPxN the inventory contradicts (5.2% of them): srguard rightly
    rejects those, which would make the mix's incidents five times MIX's, and its Avro and DUIS mixes
    different SRs."""
    return list(itertools.islice(carried_by_duis(population, TrafficGenerator(population, MIX, seed=seed)), count))


@dataclass
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class World:
    def __init__(self, stack: EmbeddedStack, workdir: Path) -> None:
        self.stack = stack
        self.bootstrap = EXTERNAL_BROKER or stack.kafka_bootstrap
        self.population = build_population(seed=3, meter_points=20_000)
        self.workdir = workdir
        self.trust = workdir / "oca.pem"
        self.trust.write_bytes(self.population.pki.oca_pem())
        self.unique = uuid.uuid4().hex[:6]
        self.topics = Topics(**{k: f"{v}.{self.unique}" for k, v in Topics().model_dump().items()})
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap})
        create_topics(self.admin, topic_layout(self.topics), PARTITIONS, 1)
        self.producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "linger.ms": 20,
                "enable.idempotence": True,
                "queue.buffering.max.messages": 1_000_000,
            }
        )
        publish_reference_data(self.producer, self.topics, self.population)
        publish_devices(self.producer, self.topics.devices, inventory(self.population))
        self.traffic = traffic(self.population, 4, SRS)
        publish_traffic(self.producer, self.topics.requests, self.traffic)
        # The DUIS mix: the same SRs as DUIS XML, stamped with their SR time: kept for good (retention.ms -1).
        self.duis_requests = f"{self.topics.requests}.duis"
        kept = {"retention.ms": "-1"}
        for future in self.admin.create_topics([NewTopic(self.duis_requests, PARTITIONS, 1, config=kept)]).values():
            future.result(30)
        self.duis_srs = publish_duis_traffic(
            self.producer,
            self.duis_requests,
            self.traffic,
            self.population.pki.oca.public_bytes(Encoding.DER),
        )
        self.feed()

    def feed(self) -> None:
        """Redis filled with the reference data by ``srguard feed`` before any contender runs (the peers
        look it up; they do not feed it)."""
        port = free_port()
        feed = subprocess.Popen(
            [sys.executable, "-m", "processor", "feed"],
            env=self.env(SRGUARD_METRICS_PORT=str(port)),
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "feed.log").open("wb"),
        )
        try:
            deadline = time.monotonic() + 180
            while not ready(port):
                if time.monotonic() > deadline or feed.poll() is not None:
                    raise RuntimeError(f"srguard feed did not get ready: see {self.workdir / 'feed.log'}")
                time.sleep(0.2)
        finally:
            feed.terminate()
            feed.wait(60)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "SRGUARD_BOOTSTRAP_SERVERS": self.bootstrap,
            "SRGUARD_REDIS_URL": self.stack.redis_url,
            "SRGUARD_REDIS_KEY_PREFIX": f"b{self.unique}",
            "SRGUARD_REGISTRATION_BUCKETS": "1024",
            "SRGUARD_TRUST_STORE": str(self.trust),
            "SRGUARD_BATCH_SIZE": str(BATCH),
        }
        env |= {f"SRGUARD_KAFKA_{k.upper().replace('.', '_')}": str(v) for k, v in CONTENDER_CONSUMER.items()}
        env |= {f"SRGUARD_TOPICS__{k.upper()}": v for k, v in self.topics.model_dump().items()}
        return {**os.environ, **env, **extra}

    def settings(self, **flags: object):
        return load_settings(
            bootstrap_servers=self.bootstrap,
            redis_url=self.stack.redis_url,
            redis_key_prefix=f"b{self.unique}",
            registration_buckets=1024,
            trust_store=self.trust,
            topics=self.topics,
            **flags,
        )


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
