"""srguard over SASL_SSL vs plaintext: `python -m bench.secure` (also part of `make bench`).

The same generated world (seed 1) and Avro SRs go to a plaintext embedded stack and to a secured one
(`stack up --secure`: SASL_SSL SCRAM-SHA-512, ACLs, Redis over TLS with ACL users), one stack at a time; on
each, `srguard run` (exactly-once, then at-least-once) judges the backlog from a standing start. A run's rate
is its SRs over the time from its first SR decided to its last (polled on /metrics every 50 ms), its CPU the
process's user+system seconds over the whole run. The secured run is srguard-run (embedded_feed = false,
with `srguard feed` as srguard-feed alongside) over SASL_SSL; the plaintext one the same split, unauthenticated.

Latency, after each throughput run with the backlog decided: the same process goes on while SRs (the input's
first records again) are produced at a fixed LATENCY_RATE for LATENCY_SECONDS, each with its send time as its
record timestamp, by a producer with librdkafka's defaults (as the admin principal on the secured stack); srguard
keeps the input's timestamp on every output, and a read_committed consumer in a process of its own takes each
decision's arrival time minus that timestamp: produce call to the decision visible downstream, over the same
listener.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from processor.config import load_settings
from processor.devkit.stack import EmbeddedStack, free_port

SRS = int(os.environ.get("BENCH_SRS", "100000"))
GUARANTEES = ("exactly_once", "at_least_once")
LATENCY_RATE = int(os.environ.get("BENCH_SECURE_RATE", "2000"))  # SR/s: below both stacks' rates above
LATENCY_SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "30"))
OUTPUTS = ("dcc.sr.accepted", "dcc.sr.rejected")


def _env(base: dict[str, str], **extra: str) -> dict[str, str]:
    own = {k: v for k, v in os.environ.items() if not k.startswith(("SRGUARD_", "KAFKA_", "REDIS_"))}
    return {**own, **base, **extra}


def _srguard(env: dict[str, str], *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "processor", *args], env=env, capture_output=True, text=True, timeout=900, cwd=cwd
    )
    if done.returncode != 0:
        raise RuntimeError(f"srguard {' '.join(args)}: {done.stderr[-1500:]}")
    return done.stdout


def _consumed(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as answer:
            text = answer.read().decode()
    except OSError:
        return 0.0
    found = re.search(r"^srguard_sr_consumed_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def _wait_ready(port: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("srguard feed not ready")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _read_latencies(config: dict[str, Any], ready: Any, seconds: float, out: Connection) -> None:
    """In a process of its own: each decision's (record timestamp ms, arrival time s) on the output topics, read
    from their ends for ``seconds``."""
    consumer = Consumer({**config, "group.id": f"latency-{uuid.uuid4().hex[:6]}", "isolation.level": "read_committed"})
    assignment = []
    for topic in OUTPUTS:
        for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
            assignment.append(TopicPartition(topic, partition, high))
    consumer.assign(assignment)
    ready.set()
    seen, until = [], time.monotonic() + seconds
    while time.monotonic() < until:
        msg = consumer.poll(0.05)
        if msg is not None and msg.error() is None:
            seen.append((msg.timestamp()[1], time.time()))
    consumer.close()
    out.send(seen)


def _latency(client: dict[str, Any]) -> tuple[float, float, int]:
    """(p50 ms, p99 ms, decisions) of SRs produced at LATENCY_RATE while a caught-up `srguard run` works."""
    source = Consumer({**client, "group.id": f"payloads-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"})
    source.subscribe(["dcc.sr.requests"])
    payloads: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + 60
    while len(payloads) < LATENCY_RATE and time.monotonic() < deadline:
        payloads += [(m.key(), m.value()) for m in source.consume(500, 1.0) if m.error() is None]  # type: ignore[misc]
    source.close()
    spawn = multiprocessing.get_context("spawn")
    ready, (results_in, results_out) = spawn.Event(), spawn.Pipe(duplex=False)
    reader = spawn.Process(target=_read_latencies, args=(client, ready, LATENCY_SECONDS + 20, results_out))
    reader.start()
    ready.wait(60)
    producer = Producer(client)
    start, interval, sent = time.perf_counter(), 1.0 / LATENCY_RATE, 0
    first_ms = int(time.time() * 1000)
    while sent < LATENCY_RATE * LATENCY_SECONDS:
        target = start + sent * interval
        while (now := time.perf_counter()) < target:
            time.sleep(max(0.0, min(target - now, 0.001)))
        key, value = payloads[sent % len(payloads)]
        producer.produce("dcc.sr.requests", value, key, timestamp=int(time.time() * 1000))
        producer.poll(0)
        sent += 1
    producer.flush(30)
    seen = results_in.recv()
    reader.join(30)
    latencies = sorted(got * 1000 - at for at, got in seen if at >= first_ms)
    if len(latencies) < sent:
        raise RuntimeError(f"{len(latencies):,} of {sent:,} SRs produced for the latency run were decided in time")
    return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)], len(latencies)


def _timed_run(
    env: dict[str, str], guarantee: str, group: str, trust: Path, cwd: Path, client: dict[str, Any]
) -> tuple[float, float, float, float]:
    """(SR/s, CPU s per 100k SRs) of one `srguard run` through the whole backlog, then (p50, p99 ms) of the same
    process deciding SRs produced at LATENCY_RATE (``client``: the producer's and reader's Kafka settings)."""
    port = free_port()
    run_env = _env(env, SRGUARD_METRICS_PORT=str(port), SRGUARD_GROUP_ID=group, SRGUARD_PROGRESS_INTERVAL_S="0")
    argv = [sys.executable, "-m", "processor", "run", "--trust-store", str(trust)]
    process = subprocess.Popen(
        [*argv, "--processing-guarantee", guarantee],
        env=run_env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = last = None
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            done = _consumed(port)
            now = time.monotonic()
            if done and first is None:
                first = (now, done)
            if done >= SRS:
                last = (now, done)
                break
            time.sleep(0.05)
        cpu = _cpu_seconds(process.pid)
        p50, p99, _ = _latency(client) if last is not None else (0.0, 0.0, 0)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    if first is None or last is None:
        raise RuntimeError(f"srguard run ({guarantee}) did not decide {SRS:,} SRs")
    rate = (last[1] - first[1]) / (last[0] - first[0])
    return rate, cpu / SRS * 100_000, p50, p99


def measure(secure: bool) -> dict[str, tuple[float, float, float, float]]:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStack(Path(tmp) / "stack", secure=secure) as stack:
        cwd = Path(tmp)
        if secure:
            folder = Path(stack.state.secure)
            users = ("admin", "srguard-run", "srguard-feed")
            admin, run, feed = ({"SRGUARD_CONFIG": str(folder / f"{u}.toml")} for u in users)
        else:
            admin = {"SRGUARD_BOOTSTRAP_SERVERS": stack.kafka_bootstrap, "SRGUARD_REDIS_URL": stack.redis_url}
            run, feed = {**admin, "SRGUARD_EMBEDDED_FEED": "false"}, admin
        _srguard(_env(admin), "topics", "create", cwd=cwd)
        if secure:
            acls = ["acls", "--principal", "User:srguard-run", "--for", "run", "--no-embedded-feed", "--apply"]
            _srguard(_env(admin), *acls, cwd=cwd)
            _srguard(_env(admin), "acls", "--principal", "User:srguard-feed", "--for", "feed", "--apply", cwd=cwd)
            for guarantee in GUARANTEES:  # each run reads from the start as a group of its own
                group = ["acls", "--principal", "User:srguard-run", "--for", "run", "--no-embedded-feed"]
                _srguard(_env(admin), *group, "--group", f"bench-{guarantee}", "--apply", cwd=cwd)
        _srguard(_env(admin), "simulate", "publish", "--srs", str(SRS), "--meter-points", "20000", cwd=cwd)
        feed_port = free_port()
        feeding = subprocess.Popen(
            [sys.executable, "-m", "processor", "feed"],
            env=_env(feed, SRGUARD_METRICS_PORT=str(feed_port)),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_ready(feed_port)
            trust = cwd / "srguard-simulated-oca.pem"
            client = (
                load_settings(Path(admin["SRGUARD_CONFIG"])).kafka_config()  # shared settings: no logger to pickle
                if secure
                else {"bootstrap.servers": stack.kafka_bootstrap}
            )
            return {g: _timed_run(run, g, f"bench-{g}", trust, cwd, client) for g in GUARANTEES}
        finally:
            feeding.send_signal(signal.SIGTERM)
            feeding.wait(60)


def run() -> dict[str, float]:
    figures = {}
    found = {"plaintext": measure(secure=False), "SASL_SSL": measure(secure=True)}
    for guarantee in GUARANTEES:
        plain, secured = found["plaintext"][guarantee], found["SASL_SSL"][guarantee]
        print(
            f"{guarantee}: plaintext {plain[0]:,.0f} SR/s ({plain[1]:.2f} CPU s/100k), SASL_SSL {secured[0]:,.0f} SR/s "
            f"({secured[1]:.2f} CPU s/100k): x{secured[0] / plain[0]:.2f} the rate; {SRS:,} Avro SRs, one process"
        )
        print(
            f"{guarantee}: latency at {LATENCY_RATE:,} SR/s for {LATENCY_SECONDS:.0f}s, produce to decision read: "
            f"plaintext p50 {plain[2]:.1f} ms p99 {plain[3]:.1f} ms, "
            f"SASL_SSL p50 {secured[2]:.1f} ms p99 {secured[3]:.1f} ms"
        )
        figures[f"secure_{guarantee}_ratio"] = secured[0] / plain[0]
        figures[f"secure_{guarantee}_p99_ms"] = secured[3]
        figures[f"plaintext_{guarantee}_p99_ms"] = plain[3]
    return figures


if __name__ == "__main__":
    run()
