"""The fault campaign on a replicated cluster (issue 35): two `srguard run` processes in one group decide a
steady stream while a fault strikes the cluster (or Redis), and a checker reads every decision read_committed.

Per fault it measures: SRs published, lost (never decided), duplicated (decided more than once; at-least-once
may repeat identical copies, exactly-once never), wrong (decided otherwise than the generator labels them:
what a fault-free run decides, as the e2e tests hold), unexpected (an output no published SR explains), and
the recovery: the longest pause in committed decisions from the fault on, while SRs kept arriving.
``python -m tests.reliability.campaign`` (``make chaos``) runs every fault, both guarantees, N rounds."""

from __future__ import annotations

import argparse
import itertools
import signal
import statistics
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions

from processor.avro import codec
from processor.devkit.simulate.traffic import LabelledSR
from tests.e2e.srguard_process import PARTITIONS, SrguardRun, World, make_world
from tests.reliability.kafka_cluster import KafkaCluster
from tests.reliability.redis_process import RestartableRedis

RATE = 150  # SRs a second, steady: a fault strikes while SRs keep arriving
DOWN_S = 3.0  # how long a stopped node stays down before it is started again
FROZEN_S = 10.0  # past the processes' session timeout (6 s in these worlds)
GUARANTEES = ("exactly_once", "at_least_once")
METADATA_REFRESH_MS = "2000"  # srguard sees added partitions within this (librdkafka's default: 5 minutes)


@dataclass
class Target:
    """What a fault may strike: the cluster, the Redis srguard uses, the world (its topics)."""

    cluster: KafkaCluster
    redis: RestartableRedis
    world: World


def _leader_killed(t: Target) -> None:
    node = t.cluster.leader(t.world.topics.requests)
    t.cluster.stop(node, signal.SIGKILL)
    time.sleep(DOWN_S)
    t.cluster.start(node)


def _leader_restarted(t: Target) -> None:
    node = t.cluster.leader(t.world.topics.requests)
    t.cluster.stop(node, signal.SIGTERM)
    time.sleep(DOWN_S)
    t.cluster.start(node)


def _rolling_restart(t: Target) -> None:
    for node in [n.id for n in t.cluster.nodes]:
        t.cluster.stop(node, signal.SIGTERM)
        t.cluster.start(node)
        deadline = time.monotonic() + 60  # as an operator does: the next node only once replicas caught up
        while time.monotonic() < deadline and not t.cluster.in_sync(t.world.topics.requests):
            time.sleep(0.5)


def _leader_frozen(t: Target) -> None:
    node = t.cluster.leader(t.world.topics.requests)
    t.cluster.freeze(node)
    time.sleep(FROZEN_S)
    t.cluster.thaw(node)


def _controller_killed(t: Target) -> None:
    node = t.cluster.active_controller()
    t.cluster.stop(node, signal.SIGKILL)
    time.sleep(DOWN_S)
    t.cluster.start(node)


def _partitions_added(t: Target) -> None:
    admin = AdminClient({"bootstrap.servers": t.cluster.bootstrap})
    for future in admin.create_partitions([NewPartitions(t.world.topics.requests, PARTITIONS + 3)]).values():
        future.result(30)
    # The SRs from now on spread over all six partitions: a producer that knows them (the old one's metadata
    # would keep it on three for minutes); srguard's processes see them within METADATA_REFRESH_MS.
    old, t.world.producer = t.world.producer, Producer({"bootstrap.servers": t.cluster.bootstrap, "linger.ms": 10})
    old.flush(30)
    topic = t.world.topics.requests
    assert len(t.world.producer.list_topics(topic, timeout=10).topics[topic].partitions) == PARTITIONS + 3


def _redis_restarted_empty(t: Target) -> None:
    t.redis.stop()  # a Redis without persistence (the campaign's): it comes back empty
    t.redis.start()


FAULTS: dict[str, Callable[[Target], None]] = {
    "partition leader SIGKILLed and restarted": _leader_killed,
    "partition leader restarted gracefully": _leader_restarted,
    "rolling restart of all three nodes": _rolling_restart,
    "partition leader frozen past the session timeout": _leader_frozen,
    "active controller SIGKILLed": _controller_killed,
    "partitions added to the SR topic": _partitions_added,
    "Redis restarted without its data": _redis_restarted_empty,
}


@dataclass
class Result:
    fault: str
    guarantee: str
    srs: int
    lost: int
    duplicated: int
    wrong: int
    unexpected: int
    recovery_s: float
    alive: bool  # both processes ran through the fault
    stopped: bool  # and stopped with exit 0 on SIGTERM afterwards

    @property
    def passed(self) -> bool:
        exact = self.duplicated == 0 or self.guarantee == "at_least_once"
        return self.alive and self.stopped and not (self.lost or self.wrong or self.unexpected) and exact


class Decisions(threading.Thread):
    """Every decision read_committed as it arrives: per request id its (kind, bytes) copies, and arrival times."""

    def __init__(self, world: World) -> None:
        super().__init__(daemon=True)
        self.world = world
        self.copies: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
        self.arrivals: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.world.kafka,
                "group.id": f"check-{uuid.uuid4().hex[:8]}",
                "isolation.level": "read_committed",
                "log_level": 0,
            }
        )
        topics = (self.world.topics.accepted, self.world.topics.rejected)
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in topics for p in range(PARTITIONS)])
        try:
            while not self.done.is_set():
                for msg in consumer.consume(500, 0.2):
                    if msg.error():
                        continue
                    self.arrivals.append(time.monotonic())
                    if msg.topic() == self.world.topics.accepted:
                        rid = codec("ServiceRequest").decode(msg.value())["request_id"]
                        self.copies[rid].append(("accepted", msg.value()))
                    else:
                        record = codec("SrRejection").decode(msg.value())
                        self.copies[record["request_id"]].append(("rejected", record["original"]))
        finally:
            consumer.close()

    def wait_for(self, wanted: set[str], timeout: float, quiet_s: float = 2.0) -> None:
        """Until every wanted SR has a decision and nothing more came for ``quiet_s`` (late duplicates)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            complete = wanted <= set(self.copies)
            if complete and (not self.arrivals or time.monotonic() - self.arrivals[-1] > quiet_s):
                return
            time.sleep(0.2)

    def longest_pause(self, since: float, until: float) -> float:
        times = [since] + [t for t in self.arrivals if since <= t <= until] + [until]
        return max(b - a for a, b in itertools.pairwise(times))


def _publish_steadily(world: World, traffic: list[LabelledSR], started: threading.Event) -> None:
    batch = max(1, RATE // 10)
    for n in range(0, len(traffic), batch):
        world.publish(traffic[n : n + batch])
        if n >= len(traffic) // 3:
            started.set()  # a third is out: time for the fault
        time.sleep(batch / RATE)
    started.set()


def run_fault(cluster: KafkaCluster, server: RestartableRedis, fault: str, guarantee: str, workdir: Path) -> Result:
    unique = uuid.uuid4().hex[:10]
    world = make_world(cluster.bootstrap, server.url, unique, workdir, meter_points=600, replication=3)
    traffic = world.traffic(3000, seed=41)
    wanted = {i.sr.request_id for i in traffic}
    settings = {"SRGUARD_BATCH_SIZE": "50", "SRGUARD_KAFKA_TOPIC_METADATA_REFRESH_INTERVAL_MS": METADATA_REFRESH_MS}
    runs = [SrguardRun(world, SRGUARD_PROCESSING_GUARANTEE=guarantee, **settings) for _ in range(2)]
    decisions = Decisions(world)
    try:
        for run in runs:
            run.wait_ready(90)
        decisions.start()
        third = threading.Event()
        publisher = threading.Thread(target=_publish_steadily, args=(world, traffic, third), daemon=True)
        publisher.start()
        third.wait(60)
        struck = time.monotonic()
        FAULTS[fault](Target(cluster, server, world))
        publisher.join(120)
        published = time.monotonic()
        decisions.wait_for(wanted, timeout=150)
        alive = all(run.process.poll() is None for run in runs)
    finally:
        codes = [run.stop(timeout=40) for run in runs]
        decisions.done.set()
        decisions.join(10)
        redis.Redis.from_url(server.url).flushall()  # the next world starts on an empty Redis
    labels = {i.sr.request_id: "rejected" if i.rejected else "accepted" for i in traffic}
    copies = decisions.copies
    return Result(
        fault=fault,
        guarantee=guarantee,
        srs=len(traffic),
        lost=len(wanted - set(copies)),
        duplicated=sum(1 for rid in wanted if len(copies.get(rid, ())) > 1),
        wrong=sum(1 for rid in wanted if rid in copies and {k for k, _ in copies[rid]} != {labels[rid]})
        + sum(1 for found in copies.values() if len(set(found)) > 1),  # copies that differ count as wrong
        unexpected=len(set(copies) - wanted),
        recovery_s=decisions.longest_pause(struck, published),
        alive=alive,
        stopped=all(code == 0 for code in codes),
    )


def _table(results: list[Result]) -> str:
    rows = ["| fault | guarantee | SRs | lost | duplicated | wrong | unexpected | recovery p50 / max s | passed |"]
    rows.append("|---|---|---|---|---|---|---|---|---|")
    grouped: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        grouped[(r.fault, r.guarantee)].append(r)
    for (fault, guarantee), found in grouped.items():
        pauses = [r.recovery_s for r in found]
        rows.append(
            f"| {fault} | {guarantee} | {sum(r.srs for r in found):,} | {sum(r.lost for r in found)} | "
            f"{sum(r.duplicated for r in found)} | {sum(r.wrong for r in found)} | {sum(r.unexpected for r in found)} "
            f"| {statistics.median(pauses):.1f} / {max(pauses):.1f} | {sum(r.passed for r in found)}/{len(found)} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="times each fault strikes, per guarantee")
    parser.add_argument("--faults", default="", help="comma-separated prefixes of fault names (default: all)")
    args = parser.parse_args()
    chosen = [f for f in FAULTS if not args.faults or any(f.startswith(p) for p in args.faults.split(","))]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="srguard-chaos-") as tmp:
        cluster = KafkaCluster(Path(tmp) / "kafka")
        server = RestartableRedis(Path(tmp) / "redis", extra=["--appendonly", "no"])
        (Path(tmp) / "redis").mkdir()
        cluster.start_all()
        server.start()
        try:
            for round_ in range(args.rounds):
                for fault in chosen:
                    for guarantee in GUARANTEES:
                        folder = Path(tmp) / f"r{round_}-{len(results)}"
                        folder.mkdir()
                        result = run_fault(cluster, server, fault, guarantee, folder)
                        results.append(result)
                        print(f"round {round_ + 1}: {fault}, {guarantee}: {result}", flush=True)
        finally:
            server.stop()
            cluster.stop_all()
    print(_table(results))
    raise SystemExit(0 if all(r.passed for r in results) else 1)


if __name__ == "__main__":
    main()
