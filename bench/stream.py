"""Stream benchmarks on the embedded stack: throughput of srguard, the relay (copy loop) and the peers side
by side (bench/contest.py), replay throughput, each contender's latency at a fixed rate, and scale-out.
Every figure is measured in this run; medians of REPEATS."""

from __future__ import annotations

import gc
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
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from bench.contest import CONTENDERS, GUARANTEES, Contender, contest, mixes, start
from bench.world import (
    BATCH,
    EXTERNAL_BROKER,
    FAST_GROUP,
    PARTITIONS,
    READER,
    REPEATS,
    SRS,
    Spread,
    World,
    cpu_seconds,
    ready,
    traffic,
)
from processor import wiring
from processor.avro import codec
from processor.config import Mode, Topics
from processor.devkit.stack import EmbeddedStack, free_port
from processor.history.replay import replay_topic
from processor.kafka.topics import TopicSpec, create_topics
from processor.stream.serde import encode_service_request, peek

LATENCY_SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "60"))
LATENCY_RATE = 5000
# Sent at the same rate before the measured seconds, and reported apart: a new topic's first seconds on a
# broker (its leaders, segments, the JVM compiling the paths they take) are slow for every contender alike.
LATENCY_WARMUP_S = float(os.environ.get("BENCH_LATENCY_WARMUP_SECONDS", "10"))
LATENCY_WINDOW_S = 10


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
        return ready(self.port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def _time_processors(processors: list[Processor], total: int) -> tuple[float, list[float]]:
    """Seconds from the first decided SR to the last, and each process's CPU seconds meanwhile."""
    while sum(p.consumed() for p in processors) == 0:
        time.sleep(0.02)
    start, cpu0 = time.perf_counter(), [cpu_seconds(p.process.pid) for p in processors]
    while sum(p.consumed() for p in processors) < total:
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    return elapsed, [cpu_seconds(p.process.pid) - c for p, c in zip(processors, cpu0, strict=True)]


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
    items = traffic(world.population, 9, warmup + int(LATENCY_RATE * LATENCY_SECONDS))
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
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    for n, (request_id, key, value) in enumerate(payloads[1:], 1):
        target = start + n * interval
        while (now := time.perf_counter()) < target:
            time.sleep(max(0.0, min(target - now, 0.001)))
        (warming if n <= warmup else sent)[request_id] = time.time()
        producer.produce(topics.requests, value, key)
        producer.poll(0)
        if n == warmup:  # the CPU each process uses is measured over the measured seconds only
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            measured = time.perf_counter()
    producer.flush(30)
    elapsed = time.perf_counter() - measured
    gc.enable()
    gc.unfreeze()
    cores = {name: round((cpu_seconds(pid) - cpu_before[name]) / elapsed, 2) for name, pid in pids.items()}
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


def contender_latency(world: World, guarantee: str, contender: Contender) -> dict[str, object]:
    """A contender as its own process between the input and the reader, ready once a probe SR came through."""
    topics = _latency_topics(world, f"{contender.name}{guarantee[:3]}")
    ready = threading.Event()
    started = time.perf_counter()
    process = start(world, contender, guarantee, topics, {}, f"latency-{contender.name}-{guarantee}")

    def answered() -> bool:
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
        return ready.is_set() or time.perf_counter() - started > 60

    try:
        return _drive(world, topics, answered, process.pid)
    finally:
        process.terminate()
        process.wait(60)


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
            f"setup: {SRS:,} SRs as Avro and as DUIS (mix: 95% out of scope, 5% in scope, 1% of those incidents), "
            f"{PARTITIONS} partitions, published and fed in {time.perf_counter() - started:.1f}s"
        )
        results["throughput"] = contest(world, mixes(world), GUARANTEES, CONTENDERS)
        rates = []
        for n in range(REPEATS):
            settings = world.settings(group_id=f"replay-{n}")
            parts = wiring.replay_parts(settings, f"replay{n}.", Mode.AUDIT)
            rates.append(replay_topic(settings, *parts, None, None, f"replay{n}.").rate)
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
        latencies: dict[str, dict[str, object]] = {}
        for guarantee in GUARANTEES:
            for contender in CONTENDERS:
                figures = latencies.setdefault(guarantee, {})[contender.name] = contender_latency(
                    world, guarantee, contender
                )
                print(
                    f"latency {contender.name} {guarantee} at {LATENCY_RATE}/s for {LATENCY_SECONDS:.0f}s: "
                    f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, max {figures['max_ms']:.1f} ms "
                    f"({figures['decisions']:,} of {figures['sent']:,} decisions seen); p50/p99 per "
                    f"{LATENCY_WINDOW_S}s: "
                    + ", ".join(f"{w['p50_ms']:.0f}/{w['p99_ms']:.0f}" for w in figures["windows"])  # type: ignore[union-attr]
                )
        results["latency"] = latencies
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
