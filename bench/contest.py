"""Side by side on one embedded Apache Kafka: srguard, the relay (the copy loop: what the broker allows) and
the peers in bench/peers/ (the same job in other frameworks), on the same input in the same run.

Each run: one contender as its own process reads the whole input topic into fresh output topics. Its rate
is SRs over the time from its first output visible to a read_committed consumer to its last (start-up and
group joins excluded alike); its CPU is that process's user+system seconds over the same time, per 100k
SRs (steadier than wall time on a shared 2-core machine). Contenders alternate, in a rotated order each
repeat. Before a peer's figures count, its outputs in the first repeat are checked equal to srguard's:
every record on every output topic, keys, headers and values, with only the decision time set aside; or,
for a port of the rule's essentials (Kafka Streams), every decision (``Contender.compared``).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bench.world import BATCH, CONTENDER_CONSUMER, PARTITIONS, REPEATS, World, cpu_seconds
from processor.avro import codec
from processor.devkit.stack import free_port
from processor.kafka.topics import create_topics, topic_layout
from processor.names import OUTPUT_ROLES, Topics

ROOT = Path(__file__).resolve().parent.parent
QUIX_PYTHON = ROOT / ".venv-quix" / "bin" / "python"  # Quix pins confluent-kafka < 2.13: its own virtualenv
KSTREAMS = ROOT / "bench" / "peers" / "kstreams"  # built by `mvn -q clean package` (make bench)
RUN_TIMEOUT_S = 600
GUARANTEES = ("at_least_once", "exactly_once")
PROFILES = Path(os.environ["BENCH_PROFILES"]) if os.environ.get("BENCH_PROFILES") else None
# Commit intervals: srguard's and the relay's defaults (at-least-once: offsets committed every second once
# delivered; exactly-once: a transaction per batch, a batch waiting up to 10 ms to fill); Quix's default
# at-least-once (5 s), and for exactly-once 100 ms, Kafka Streams' own default for exactly_once_v2
# (Quix's 5 s default would make every output wait up to 5 s for its transaction).
QUIX_COMMIT_INTERVAL_S = {"at_least_once": 5.0, "exactly_once": 0.1}


@dataclass(frozen=True)
class Mix:
    name: str
    topic: str
    srs: int
    env: dict[str, str]


@dataclass(frozen=True)
class Contender:
    name: str
    argv: Callable[[World, str, str, Topics], list[str]]  # (world, guarantee, group, run topics) -> command
    # How its outputs are compared with srguard's: "records" (every record, byte for byte but the decision
    # time), "decisions" (accepted records whole; per rejection its code, reason and evidence), or "" (the
    # relay's are copies of its input).
    compared: str = "records"
    commits: dict[str, str] = field(default_factory=dict)  # by guarantee: when its outputs are committed


def _srguard(world: World, guarantee: str, group: str, topics: Topics) -> list[str]:
    return [sys.executable, "-m", "processor", "run", "--processing-guarantee", guarantee, "--group-id", group]


def _relay(world: World, guarantee: str, group: str, topics: Topics) -> list[str]:
    config = json.dumps(CONTENDER_CONSUMER)
    return [
        sys.executable,
        "-m",
        "bench.relay",
        world.bootstrap,
        topics.requests,
        topics.accepted,
        guarantee,
        str(BATCH),
        config,
    ]


def _quix(world: World, guarantee: str, group: str, topics: Topics) -> list[str]:
    return [str(QUIX_PYTHON), "-m", "bench.peers.quix_app", str(QUIX_COMMIT_INTERVAL_S[guarantee])]


def _kstreams(world: World, guarantee: str, group: str, topics: Topics) -> list[str]:
    state = world.workdir / f"{group}.state"
    classpath = f"{KSTREAMS / 'target' / 'classes'}:{KSTREAMS / 'target' / 'dependency' / '*'}"
    return ["java", "-cp", classpath, "srguard.peer.SrGuardStreams", str(ROOT / "schemas"), str(state)]


_OURS = {
    "at_least_once": "offsets every 1 s once delivered; linger.ms 5",
    "exactly_once": "a transaction per batch (<= 1000 SRs, <= 10 ms to fill)",
}
CONTENDERS = [
    Contender("srguard", _srguard, commits=_OURS),
    Contender("relay", _relay, compared="", commits=_OURS),
    Contender(
        "quix",
        _quix,
        commits={g: f"commit_interval {s} s (librdkafka 2.12)" for g, s in QUIX_COMMIT_INTERVAL_S.items()},
    ),
    Contender(
        "kstreams",
        _kstreams,
        compared="decisions",
        commits={
            "at_least_once": "commit.interval.ms 30000 (default); linger.ms 100 (Streams' default)",
            "exactly_once": "exactly_once_v2, commit.interval.ms 100 (default)",
        },
    ),
]


@dataclass
class Run:
    rate: float
    cpu_per_100k: float
    outputs: Counter[tuple[object, ...]] | None = None  # canonical output records (first repeat only)


@dataclass
class Figures:
    rates: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    check: str = "srguard itself"

    def summary(self) -> dict[str, object]:
        def spread(values: list[float]) -> dict[str, float]:
            return {"median": statistics.median(values), "low": min(values), "high": max(values)}

        return {"sr_per_s": spread(self.rates), "cpu_s_per_100k": spread(self.cpu), "outputs": self.check}


def _run_topics(world: World, mix: Mix, name: str) -> Topics:
    unique = f"{name}{uuid.uuid4().hex[:6]}"
    outputs = {role: f"{getattr(world.topics, role)}.{unique}" for role in OUTPUT_ROLES}
    topics = world.topics.model_copy(update={"requests": mix.topic, **outputs})
    create_topics(world.admin, [s for s in topic_layout(topics) if s.name in outputs.values()], PARTITIONS, 1)
    return topics


def _reader(world: World, topics: list[str]) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": world.bootstrap,
            "group.id": f"count-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in topics for p in range(PARTITIONS)])
    return consumer


def _timed(
    world: World, process: subprocess.Popen[bytes], topics: list[str], srs: int, log: Path
) -> tuple[float, float]:
    """(seconds, CPU seconds) from the first output to the srs-th on ``topics`` (one output per SR there)."""
    reader = _reader(world, topics)
    seen, start, cpu0 = 0, 0.0, 0.0
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while seen < srs:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{seen:,} of {srs:,} outputs; the contender's log: {log}")
            batch = [m for m in reader.consume(10_000, 0.05) if not m.error()]
            if batch and not seen:
                start, cpu0 = time.perf_counter(), cpu_seconds(process.pid)
            seen += len(batch)
        return time.perf_counter() - start, cpu_seconds(process.pid) - cpu0
    finally:
        reader.close()


_MOMENT = re.compile(rb"<sr:ResponseDateTime>[^<]*</sr:ResponseDateTime>")


def _canonical(role: str, value: bytes | None) -> object:
    """A record's value without its decision time (the one field two correct runs may differ in)."""
    if value is not None and role in ("rejected", "audit"):
        return tuple(sorted((k, repr(v)) for k, v in codec("SrRejection").decode(value).items() if k != "decided_at"))
    if value is not None and role == "responses":
        return _MOMENT.sub(b"", value)
    return value


def _outputs(world: World, topics: Topics) -> Counter[tuple[object, ...]]:
    """Every record on the run's output topics, canonical; read until none has come for 3 s."""
    roles = {getattr(topics, role): role for role in OUTPUT_ROLES}
    reader = _reader(world, list(roles))
    found: Counter[tuple[object, ...]] = Counter()
    quiet = time.monotonic() + 3
    try:
        while time.monotonic() < quiet:
            for msg in reader.consume(10_000, 0.2):
                if msg.error():
                    continue
                role = roles[msg.topic()]  # type: ignore[index]
                headers = tuple(msg.headers() or ())
                found[(role, msg.key(), _canonical(role, msg.value()), headers)] += 1
                quiet = time.monotonic() + 3
    finally:
        reader.close()
    return found


_DECISION_FIELDS = (
    "request_id",
    "response_code",
    "reason",
    "registered_network_operator_id",
    "certificate_entity_ids",
    "certificate_party_ids",
)
_RESPONSE = re.compile(rb"<sr:RequestID>([^<]*)</sr:RequestID><sr:ResponseCode>([^<]*)</sr:ResponseCode>")


def _decision(record: tuple[object, ...]) -> tuple[object, ...]:
    """A canonical output record reduced to the decision it carries (for a port of the rule's essentials)."""
    role, key, value = record[:3]
    if role in ("rejected", "audit"):
        fields = dict(value)  # type: ignore[call-overload]
        return (role, key, *(fields[f] for f in _DECISION_FIELDS))
    if role == "responses":
        found = _RESPONSE.search(value)  # type: ignore[arg-type]
        return (role, key, found.groups() if found else value)
    if role == "dlq":
        return (role, key, value)
    return record


def _difference(ours: Counter[tuple[object, ...]], theirs: Counter[tuple[object, ...]], compared: str) -> str:
    """'equal', or what differs (the duplicates at-least-once allows are not a difference)."""
    if compared == "decisions":
        ours, theirs = Counter(map(_decision, ours.elements())), Counter(map(_decision, theirs.elements()))
    missing, extra = set(ours) - set(theirs), set(theirs) - set(ours)
    if not missing and not extra:
        repeats = sum(theirs.values()) - len(theirs)
        return f"{compared} equal" + (f" ({repeats} repeated records)" if repeats else "")
    lost, more = Counter(str(r[0]) for r in missing), Counter(str(r[0]) for r in extra)
    sample = sorted(map(str, missing))[:2] + sorted(map(str, extra))[:2]
    return f"DIFFER: srguard's {dict(lost)} missing, {dict(more)} others: {sample}"


def start(
    world: World, contender: Contender, guarantee: str, topics: Topics, extra: dict[str, str], name: str
) -> subprocess.Popen[bytes]:
    """The contender as its own process on ``topics``, with the settings every contender gets; its stderr
    in the world's directory as ``name``.log (and, with BENCH_PROFILES, a py-spy profile as ``name``.txt)."""
    group = f"{contender.name}-{uuid.uuid4().hex[:8]}"
    env = world.env(
        SRGUARD_PROCESSING_GUARANTEE=guarantee, SRGUARD_GROUP_ID=group, SRGUARD_METRICS_PORT=str(free_port()), **extra
    )
    env |= {f"SRGUARD_TOPICS__{k.upper()}": v for k, v in topics.model_dump().items()}
    argv = contender.argv(world, guarantee, group, topics)
    log = (world.workdir / f"{name}.log").open("wb")
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    if PROFILES and argv[0].endswith("python"):  # py-spy's collapsed stacks of a Python contender's run
        spy = [str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking", "-r", "250", "-f", "raw"]
        out = ["-o", str(PROFILES / f"{name}.txt"), "--pid", str(process.pid)]
        subprocess.Popen([*spy, *out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process


def run_once(world: World, mix: Mix, guarantee: str, contender: Contender, keep_outputs: bool) -> Run:
    topics = _run_topics(world, mix, contender.name)
    name = f"{contender.name}-{mix.name}-{guarantee}-{uuid.uuid4().hex[:4]}"
    process = start(world, contender, guarantee, topics, mix.env, name)
    log = world.workdir / f"{name}.log"
    try:
        counted = [topics.accepted, topics.rejected, topics.dlq] if contender.compared else [topics.accepted]
        elapsed, cpu = _timed(world, process, counted, mix.srs, log)
    finally:
        process.terminate()
        process.wait(60)
    outputs = _outputs(world, topics) if keep_outputs and contender.compared else None
    return Run(mix.srs / elapsed, cpu / mix.srs * 100_000, outputs)


def contest(
    world: World, mixes: list[Mix], guarantees: tuple[str, ...], contenders: list[Contender]
) -> dict[str, object]:
    results: dict[str, object] = {}
    for mix in mixes:
        for guarantee in guarantees:
            figures = {c.name: Figures() for c in contenders}
            first: dict[str, Counter[tuple[object, ...]]] = {}
            for repeat in range(REPEATS):
                for contender in contenders[repeat % len(contenders) :] + contenders[: repeat % len(contenders)]:
                    run = run_once(world, mix, guarantee, contender, keep_outputs=repeat == 0)
                    figures[contender.name].rates.append(run.rate)
                    figures[contender.name].cpu.append(run.cpu_per_100k)
                    if run.outputs is not None:
                        first[contender.name] = run.outputs
            for contender in contenders:
                if not contender.compared:
                    figures[contender.name].check = "copies (not compared)"
                elif contender.name != "srguard" and "srguard" in first:
                    theirs = first[contender.name]
                    figures[contender.name].check = _difference(first["srguard"], theirs, contender.compared)
            key = f"{mix.name}_{guarantee}"
            results[key] = {name: f.summary() for name, f in figures.items()}
            for name, f in figures.items():
                print(
                    f"{key:>24} {name:>8}: {statistics.median(f.rates):>8,.0f} SR/s "
                    f"({min(f.rates):,.0f}-{max(f.rates):,.0f}), CPU {statistics.median(f.cpu):5.2f} s/100k SRs "
                    f"({min(f.cpu):.2f}-{max(f.cpu):.2f}); outputs {f.check}"
                )
    return results


def mixes(world: World) -> list[Mix]:
    return [
        Mix("avro", world.topics.requests, len(world.traffic), {}),
        Mix("duis", world.duis_requests, world.duis_srs, {"SRGUARD_INPUT_FORMAT": "duis"}),
    ]
