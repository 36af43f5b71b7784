"""Stream benchmarks on the embedded stack: throughput ratio against a copy loop, replay throughput,
latency at a fixed rate, and scale-out. Every figure is measured in this run; medians of REPEATS."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from cryptography.hazmat.primitives.serialization import Encoding

from bench.relay import Relay
from processor.avro import codec
from processor.config import Mode, Topics, load_settings
from processor.devkit.simulate.duis import carried_by_duis, inventory, publish_duis_traffic
from processor.devkit.simulate.population import build_population
from processor.devkit.simulate.publish import publish_reference_data, publish_traffic
from processor.devkit.simulate.traffic import TrafficGenerator, TrafficMix
from processor.devkit.stack import EmbeddedStack, free_port
from processor.registration.publish import publish_devices
from processor.replay.topic import replay_topic
from processor.stream.serde import encode_service_request, peek
from processor.stream.topics import TopicSpec, create_topics, topic_layout

REPEATS = 3
PARTITIONS = 6
BATCH = 1000
SRS = int(os.environ.get("BENCH_SRS", "200000"))
LATENCY_SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "60"))
LATENCY_RATE = 5000
# Sent at the same rate before the measured seconds, and reported apart: a new topic's first seconds on a
# broker (its leaders, segments, the JVM compiling the paths they take) are slow for every contender alike.
LATENCY_WARMUP_S = float(os.environ.get("BENCH_LATENCY_WARMUP_SECONDS", "10"))
# A broker of the user's instead of the embedded one (Apache Kafka, tansu as fallback); its CPU is then not measured.
EXTERNAL_BROKER = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
LATENCY_WINDOW_S = 10
# Consumer settings of the stage under test (srguard, or the relay) and of the reader, in the latency runs.
# Apache Kafka answers a fetch as soon as data arrives, so this only bounds an empty fetch there. It was
# chosen for tansu (the fallback), which answers an empty fetch only after fetch.wait.max.ms and whose
# fetches cost time in proportion to the partition's length: relay p99 over 20 s runs on tansu, by the
# stage's wait: 10 ms -> 1.41 s, 50 -> 0.36 s, 500 (the default) -> 0.29-0.31 s, 100 -> 0.12-0.14 s.
STAGE: dict[str, object] = {"fetch.wait.max.ms": 100}
READER: dict[str, object] = {"fetch.wait.max.ms": 100}
FAST_GROUP = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}
MIX = TrafficMix(in_scope=0.05, incident_rate=0.01)  # ~95% out of scope, ~5% in scope, ~1% of those incidents


@dataclass
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))


def _cpu_seconds(pid: int) -> float:
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
        self.traffic = TrafficGenerator(self.population, MIX, seed=4).take(SRS)
        publish_traffic(self.producer, self.topics.requests, self.traffic)
        # The DUIS mix: the same SRs as DUIS XML (those whose own fields agree with the device inventory,
        # which names type and MPxN for DUIS), stamped with their SR time: kept for good (retention.ms -1).
        self.duis_requests = f"{self.topics.requests}.duis"
        kept = {"retention.ms": "-1"}
        for future in self.admin.create_topics([NewTopic(self.duis_requests, PARTITIONS, 1, config=kept)]).values():
            future.result(30)
        self.duis_srs = publish_duis_traffic(
            self.producer,
            self.duis_requests,
            list(carried_by_duis(self.population, self.traffic)),
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
            while not _ready(port):
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
            "SRGUARD_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "SRGUARD_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        }
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


class Processor:
    """``srguard run`` as a subprocess, watched through its /metrics."""

    def __init__(self, world: World, guarantee: str, group: str, **env: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "processor",
                "run",
                "--metrics-port",
                str(self.port),
                "--processing-guarantee",
                guarantee,
                "--group-id",
                group,
            ],
            env=world.env(**env),
            stdout=subprocess.DEVNULL,
            stderr=(world.workdir / f"{group}.log").open("wb"),  # kept for a look when a figure surprises
        )

    def consumed(self) -> float:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as response:
                for line in response.read().decode().splitlines():
                    if line.startswith("srguard_sr_consumed_total "):
                        return float(line.split()[1])
        except OSError:
            pass
        return 0.0

    def ready(self) -> bool:
        return _ready(self.port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _time_processors(processors: list[Processor], total: int) -> tuple[float, list[float]]:
    """Seconds from the first decided SR to the last, and each process's CPU seconds meanwhile."""
    while sum(p.consumed() for p in processors) == 0:
        time.sleep(0.02)
    start, cpu0 = time.perf_counter(), [_cpu_seconds(p.process.pid) for p in processors]
    while sum(p.consumed() for p in processors) < total:
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    return elapsed, [_cpu_seconds(p.process.pid) - c for p, c in zip(processors, cpu0, strict=True)]


def processor_rate(world: World, guarantee: str) -> float:
    processor = Processor(world, guarantee, f"bench-{uuid.uuid4().hex[:8]}")
    try:
        elapsed, _ = _time_processors([processor], SRS)
    finally:
        processor.stop()
    return SRS / elapsed


def copy_loop_rate(world: World, guarantee: str) -> float:
    """The physical limit here: srguard's loop with nothing decided, on the same input, in the same run."""
    source, target = world.topics.requests, world.topics.accepted + ".copy"
    relay = Relay(world.bootstrap, source, target, guarantee, BATCH, FAST_GROUP)
    relay.run(lambda copied: copied >= SRS)
    return SRS / (time.perf_counter() - (relay.started or time.perf_counter()))


def _latency_topics(world: World, name: str) -> Topics:
    """Fresh topics per run: a reader on reused ones would match an earlier run's decisions."""
    name = f"{name}{uuid.uuid4().hex[:6]}"
    renamed = ("requests", "accepted", "rejected", "audit", "dlq")
    topics = world.topics.model_copy(update={k: f"{getattr(world.topics, k)}.{name}" for k in renamed})
    create_topics(world.admin, [TopicSpec(topics.requests, "latency")], PARTITIONS, 1)
    # Outputs carry their input's timestamp; the broker's append time shows when each output was written.
    appended = {"message.timestamp.type": "LogAppendTime"}
    outputs = [NewTopic(getattr(topics, k), PARTITIONS, 1, config=appended) for k in renamed if k != "requests"]
    for future in world.admin.create_topics(outputs, request_timeout=30).values():
        future.result(30)
    return topics


def _request_id(value: bytes) -> str:
    try:
        return peek(value).request_id  # an accepted SR (or, from the relay, any SR)
    except ValueError:
        return codec("SrRejection").decode(value)["request_id"]


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _read_decisions(bootstrap: str, topics: list[str], joined: Event, expected: Connection, out: Connection) -> None:
    """The latency reader, in its own process: the driver's sending loop must not hold it back (in one
    process they share the GIL, and the reader's delays would count as the stage's). Sends back
    (request id, the decision's CreateTime, received at) for each decision."""
    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"r-{uuid.uuid4().hex[:6]}",
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            **READER,
            **FAST_GROUP,
        }
    )
    reader.subscribe(topics)
    until = time.perf_counter() + 30
    while not reader.assignment() and time.perf_counter() < until:  # a group join takes seconds
        reader.poll(0.1)
    gc.disable()  # a collection pausing the reader would count as the stage's latency
    joined.set()
    seen: list[tuple[bytes, float, float]] = []
    wanted, deadline = -1, float("inf")
    while (wanted < 0 or len(seen) < wanted) and time.perf_counter() < deadline:
        if wanted < 0 and expected.poll():
            wanted, deadline = expected.recv(), time.perf_counter() + 30
        # poll(), not consume(n, t): consume() waits for n messages or t, which would add up to t here.
        msg = reader.poll(0.05)
        if msg is None or msg.error():
            continue
        seen.append((msg.value(), msg.timestamp()[1] / 1000, time.time()))  # type: ignore[arg-type]
    reader.close()
    out.send([(_request_id(value), decided, got) for value, decided, got in seen])  # decoded after the clock stops


def _drive(world: World, topics: Topics, ready: Callable[[], bool], stage_pid: int | None) -> dict[str, object]:
    """Produce at LATENCY_RATE SR/s to topics.requests; latency = produce call -> the SR's decision
    (accepted or rejected) received by a read_committed consumer in another process. ``ready``: the stage
    under test has its partitions (a first probe SR is sent until it answers). Also the CPU each process
    used meanwhile (in cores): on a small machine the broker, the stage, this driver and the reader share them."""
    spawn = multiprocessing.get_context("spawn")  # no librdkafka state of ours crosses into the reader
    joined = spawn.Event()
    expected_out, expected_in = spawn.Pipe()
    results_in, results_out = spawn.Pipe(duplex=False)
    reader = spawn.Process(
        target=_read_decisions,
        args=(world.bootstrap, [topics.accepted, topics.rejected], joined, expected_in, results_out),
    )
    reader.start()
    joined.wait(60)
    # The upstream producer keeps librdkafka's defaults (linger.ms 5): the DCC's SR producer is not ours to tune.
    producer = Producer({"bootstrap.servers": world.bootstrap})
    warmup = int(LATENCY_RATE * LATENCY_WARMUP_S)
    items = TrafficGenerator(world.population, MIX, seed=9).take(warmup + int(LATENCY_RATE * LATENCY_SECONDS))
    payloads = [(i.sr.request_id, i.sr.target_device_id.encode(), encode_service_request(i.sr)) for i in items]
    probes = 0
    warm = time.perf_counter() + 30
    while not ready() and time.perf_counter() < warm:
        producer.produce(topics.requests, payloads[0][2], payloads[0][1])
        producer.flush(5)
        probes += 1
        time.sleep(0.5)
    sent: dict[str, float] = {}
    warming: dict[str, float] = {}
    pids = {s.name: s.pid for s in world.stack.state.services} | {"driver": os.getpid(), "reader": reader.pid}
    if stage_pid is not None:
        pids["stage"] = stage_pid
    interval = 1.0 / LATENCY_RATE
    gc.freeze()  # the payloads stay: a collection walking them would stall sending (and skew every figure)
    gc.disable()
    start = measured = time.perf_counter()
    cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    for n, (request_id, key, value) in enumerate(payloads[1:], 1):
        target = start + n * interval
        while (now := time.perf_counter()) < target:
            time.sleep(max(0.0, min(target - now, 0.001)))
        (warming if n <= warmup else sent)[request_id] = time.time()
        producer.produce(topics.requests, value, key)
        producer.poll(0)
        if n == warmup:  # the CPU each process uses is measured over the measured seconds only
            cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            measured = time.perf_counter()
    producer.flush(30)
    elapsed = time.perf_counter() - measured
    gc.enable()
    gc.unfreeze()
    cores = {name: round((_cpu_seconds(pid) - cpu_before[name]) / elapsed, 2) for name, pid in pids.items()}
    expected_out.send(len(sent) + len(warming) + probes)
    decisions = results_in.recv()
    reader.join(30)

    def figures(times: dict[str, float]) -> dict[str, object]:
        mine = [(times[r], decided, got) for r, decided, got in decisions if r in times]
        return _latency_figures(times, [(at, (decided - at) * 1000, (got - at) * 1000) for at, decided, got in mine])

    result = figures(sent) | {"cpu_cores": cores}
    if warming:
        warm = figures(warming)
        result["warmup"] = {"seconds": LATENCY_WARMUP_S, "p50_ms": warm["p50_ms"], "p99_ms": warm["p99_ms"]}
    return result


def _latency_figures(sent: dict[str, float], seen: list[tuple[float, float, float]]) -> dict[str, object]:
    total = sorted(s[2] for s in seen)
    produced = sorted(s[1] for s in seen)
    hop = sorted(s[2] - s[1] for s in seen)
    first = min(sent.values())
    windows: dict[int, list[float]] = {}
    for at, _, ms in seen:
        windows.setdefault(int((at - first) // LATENCY_WINDOW_S), []).append(ms)
    return {
        "p50_ms": _percentile(total, 0.5),
        "p99_ms": _percentile(total, 0.99),
        "max_ms": total[-1],
        "decisions": len(total),
        "sent": len(sent),
        "p50_to_decision_ms": _percentile(produced, 0.5),
        "p99_to_decision_ms": _percentile(produced, 0.99),
        "p50_decision_to_reader_ms": _percentile(hop, 0.5),
        # p50/p99 per LATENCY_WINDOW_S of sending: shows whether latency holds or grows over the run.
        "windows": [
            {"from_s": w * LATENCY_WINDOW_S, "p50_ms": _percentile(v, 0.5), "p99_ms": _percentile(v, 0.99)}
            for w, v in sorted((w, sorted(v)) for w, v in windows.items())
        ],
    }


def broker_hop_latency(world: World) -> dict[str, object]:
    """The broker alone: the reader consumes the input topic itself (one hop, no stage between)."""
    topics = _latency_topics(world, "hop")
    return _drive(world, topics.model_copy(update={"accepted": topics.requests}), lambda: True, None)


def latency(world: World, guarantee: str) -> dict[str, object]:
    """srguard (``srguard run``) between the input and the reader."""
    topics = _latency_topics(world, f"lat{guarantee[:3]}")
    env = {f"SRGUARD_TOPICS__{k.upper()}": v for k, v in topics.model_dump().items()}
    env |= {f"SRGUARD_KAFKA_{k.upper().replace('.', '_')}": str(v) for k, v in STAGE.items()}
    processor = Processor(world, guarantee, f"lat-{uuid.uuid4().hex[:8]}", **env)
    try:
        return _drive(world, topics, lambda: processor.consumed() > 0, processor.process.pid)
    finally:
        processor.stop()


def relay_latency(world: World, guarantee: str) -> dict[str, object]:
    """The peer: the same loop with nothing decided (bench/relay.py) as its own process, same settings."""
    topics = _latency_topics(world, f"relay{guarantee[:3]}")
    ready = threading.Event()
    reader_started = time.perf_counter()
    relay = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.relay",
            world.bootstrap,
            topics.requests,
            topics.accepted,
            guarantee,
            str(BATCH),
            json.dumps({**STAGE, **FAST_GROUP}),
        ],
        cwd=Path(__file__).resolve().parent.parent,
    )

    def relayed() -> bool:  # the probe SR came through: the relay has joined
        if not ready.is_set():
            probe = Consumer(
                {
                    "bootstrap.servers": world.bootstrap,
                    "group.id": f"p-{uuid.uuid4().hex[:6]}",
                    "auto.offset.reset": "earliest",
                }
            )
            probe.assign([TopicPartition(topics.accepted, p) for p in range(PARTITIONS)])
            if any(not m.error() for m in probe.consume(1, 0.5)):
                ready.set()
            probe.close()
        return ready.is_set() or time.perf_counter() - reader_started > 30

    try:
        return _drive(world, topics, relayed, relay.pid)
    finally:
        relay.terminate()
        relay.wait(60)


def scale_out(world: World) -> dict[str, object]:
    """The processes join an empty topic first; then the SRs are published as fast as librdkafka takes them."""
    results = {}
    encoded = [(i.sr.target_device_id.encode(), encode_service_request(i.sr)) for i in world.traffic]
    for count in (1, 2):
        topic = f"scale{count}.{uuid.uuid4().hex[:8]}"
        create_topics(world.admin, [TopicSpec(topic, "scale-out input")], PARTITIONS, 1)
        group = f"scale-{uuid.uuid4().hex[:8]}"
        processors = [Processor(world, "at_least_once", group, SRGUARD_TOPICS__REQUESTS=topic) for _ in range(count)]
        try:
            deadline = time.monotonic() + 60
            while not all(p.ready() for p in processors) and time.monotonic() < deadline:
                time.sleep(0.2)
            for key, value in encoded:
                while True:
                    try:
                        world.producer.produce(topic, value, key)
                        break
                    except BufferError:
                        world.producer.poll(0.01)
            world.producer.flush(60)
            elapsed, cpu = _time_processors(processors, SRS)
        finally:
            for p in processors:
                p.stop()
        results[f"{count}_process"] = {"rate": SRS / elapsed, "cpu_seconds": cpu, "elapsed": elapsed}
    results["ratio"] = results["2_process"]["rate"] / results["1_process"]["rate"]  # type: ignore[index]
    return results


def run() -> dict[str, object]:
    results: dict[str, object] = {"srs": SRS, "partitions": PARTITIONS, "batch": BATCH}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStack(kafka=not EXTERNAL_BROKER) as stack:
        results["broker"] = f"Kafka at {EXTERNAL_BROKER}" if EXTERNAL_BROKER else f"{stack.state.broker} (embedded)"
        started = time.perf_counter()
        world = World(stack, Path(tmp))
        print(
            f"setup: {SRS:,} SRs (mix: 95% out of scope, 5% in scope, 1% of those incidents), "
            f"{PARTITIONS} partitions, published in {time.perf_counter() - started:.1f}s"
        )
        for guarantee in ("at_least_once", "exactly_once"):
            copies, processed, ratios = [], [], []
            for _ in range(REPEATS):
                copy = copy_loop_rate(world, guarantee)
                proc = processor_rate(world, guarantee)
                copies.append(copy)
                processed.append(proc)
                ratios.append(proc / copy)
            results[f"throughput_{guarantee}"] = {
                "copy_loop": Spread.of(copies).__dict__,
                "processor": Spread.of(processed).__dict__,
                "ratio": Spread.of(ratios).__dict__,
            }
            print(
                f"throughput {guarantee}: processor {statistics.median(processed):,.0f} SR/s, copy loop "
                f"{statistics.median(copies):,.0f} SR/s, ratio {statistics.median(ratios):.2f} "
                f"(spread {min(ratios):.2f}-{max(ratios):.2f})"
            )
        rates = []
        for n in range(REPEATS):
            settings = world.settings(group_id=f"replay-{n}")
            rates.append(replay_topic(settings, None, None, f"replay{n}.", Mode.AUDIT).rate)
        results["replay_audit"] = Spread.of(rates).__dict__
        print(
            f"replay topic (audit): median {statistics.median(rates):,.0f} SR/s "
            f"(spread {min(rates):,.0f}-{max(rates):,.0f})"
        )
        hop = results["broker_hop_latency"] = broker_hop_latency(world)
        print(
            f"latency of the broker alone (one hop) at {LATENCY_RATE}/s for {LATENCY_SECONDS:.0f}s: "
            f"p50 {hop['p50_ms']:.1f} ms, p99 {hop['p99_ms']:.1f} ms; p50/p99 per {LATENCY_WINDOW_S}s: "
            + ", ".join(f"{w['p50_ms']:.0f}/{w['p99_ms']:.0f}" for w in hop["windows"])  # type: ignore[union-attr]
            + f"; CPU cores {hop['cpu_cores']}"
        )
        for guarantee in ("at_least_once", "exactly_once"):
            for stage, measure in (("relay", relay_latency), ("srguard", latency)):
                figures = measure(world, guarantee)
                results[f"latency_{guarantee}" if stage == "srguard" else f"relay_latency_{guarantee}"] = figures
                print(
                    f"latency {stage} {guarantee} at {LATENCY_RATE}/s for {LATENCY_SECONDS:.0f}s: "
                    f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, max {figures['max_ms']:.1f} ms "
                    f"({figures['decisions']:,} of {figures['sent']:,} decisions seen); p50/p99 per "
                    f"{LATENCY_WINDOW_S}s: "
                    + ", ".join(f"{w['p50_ms']:.0f}/{w['p99_ms']:.0f}" for w in figures["windows"])  # type: ignore[union-attr]
                )
        scale = scale_out(world)
        results["scale_out"] = scale
        print(
            f"scale-out at-least-once: 1 process {scale['1_process']['rate']:,.0f} SR/s, 2 processes "  # type: ignore[index]
            f"{scale['2_process']['rate']:,.0f} SR/s (ratio {scale['ratio']:.2f}); CPU s: "  # type: ignore[index]
            f"{scale['1_process']['cpu_seconds']} vs {scale['2_process']['cpu_seconds']}"
        )  # type: ignore[index]
    return results


if __name__ == "__main__":
    run()
