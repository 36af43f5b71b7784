"""A single-node Apache Kafka (KRaft, combined broker and controller) for the embedded stack.

The broker's jars come from Maven Central, resolved once by Maven from the pom beside this file into
``$XDG_CACHE_HOME/srguard/kafka-<version>/``; later starts use the cache and never call Maven. The
storage is formatted in the stack's folder; the broker's own log goes to ``kafka-server.log`` there.
Everything that can go wrong before the broker answers (no Java, Java too old, Maven missing or
unable to reach Maven Central, a corrupt cache) raises KafkaUnavailable with one line saying what
failed and what to do; the stack then falls back to tansu unless Apache Kafka was asked for.
"""

from __future__ import annotations

import base64
import fcntl
import os
import re
import shutil
import subprocess
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from processor.errors import KafkaUnavailable

DEFAULT_VERSION = "4.1.1"  # docker-compose.yml and deploy/ name the same version
POM = Path(__file__).with_name("kafka-pom.xml")
MIN_JAVA = 17  # Kafka 4.x brokers need Java 17
RESOLVE_TIMEOUT_S = 600
# One node on a 2-core machine: a heap that leaves room for the rest of the stack and the tests.
HEAP = ("-Xms256m", "-Xmx1g")
JVM_OPTIONS = ("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true", "-XX:+ExitOnOutOfMemoryError")


def version() -> str:
    return os.environ.get("SRGUARD_STACK_KAFKA_VERSION", DEFAULT_VERSION)


def cache_dir(kafka_version: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "srguard" / f"kafka-{kafka_version}"


def java_binary() -> Path:
    """``java`` on PATH (or $JAVA_HOME/bin/java), checked to be Java 17 or newer."""
    home = os.environ.get("JAVA_HOME")
    found = Path(home, "bin", "java") if home and Path(home, "bin", "java").is_file() else None
    found = found or (Path(p) if (p := shutil.which("java")) else None)
    if found is None:
        raise KafkaUnavailable("no Java runtime: install one (apt-get install default-jre-headless) or set JAVA_HOME")
    try:
        probe = subprocess.run([str(found), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KafkaUnavailable(f"{found} -version failed: {exc}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
    major = int(match.group(1)) if match else 0
    major = int(match.group(2)) if match and major == 1 and match.group(2) else major  # "1.8" is Java 8
    if major < MIN_JAVA:
        raise KafkaUnavailable(f"{found} is Java {major or '?'}; Apache Kafka {version()} needs Java {MIN_JAVA}+")
    return found


def _cache_is_whole(libs: Path) -> bool:
    marker = libs.parent / "complete"
    if not marker.is_file():
        return False
    names = marker.read_text().split()
    try:
        return bool(names) and all(zipfile.is_zipfile(libs / name) for name in names)
    except OSError:
        return False


def resolve_jars(kafka_version: str | None = None) -> Path:
    """The folder of the broker's jars, resolved by Maven on first use; a corrupt cache is resolved again. One
    process resolves at a time (two stacks started at once, parallel test workers on a new machine): the others
    wait for it and take its jars."""
    kafka_version = kafka_version or version()
    libs = cache_dir(kafka_version) / "libs"
    if _cache_is_whole(libs):
        return libs
    libs.parent.parent.mkdir(parents=True, exist_ok=True)
    with open(libs.parent.with_name(f"{libs.parent.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return libs if _cache_is_whole(libs) else _resolve(kafka_version, libs)


def _resolve(kafka_version: str, libs: Path) -> Path:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaUnavailable(f"no Maven to resolve Apache Kafka {kafka_version}: apt-get install maven")
    shutil.rmtree(libs.parent, ignore_errors=True)
    libs.mkdir(parents=True)
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-Dkafka.version={kafka_version}",
        f"-DoutputDirectory={libs}",
        "-DincludeScope=runtime",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=RESOLVE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(libs.parent, ignore_errors=True)
        raise KafkaUnavailable(f"Maven took over {RESOLVE_TIMEOUT_S}s to resolve Apache Kafka {kafka_version}") from exc
    jars = sorted(p.name for p in libs.glob("*.jar"))
    if done.returncode != 0 or not any(name.startswith("kafka_2.13-") for name in jars):
        shutil.rmtree(libs.parent, ignore_errors=True)
        said = " ".join((done.stdout + done.stderr).split())[-300:]
        raise KafkaUnavailable(
            f"Maven could not resolve org.apache.kafka:kafka_2.13:{kafka_version} (is Maven Central reachable?): {said}"
        )
    (libs.parent / "complete").write_text("\n".join(jars) + "\n")
    return libs


def cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (as kafka-storage random-uuid).

    Like Kafka's own Uuid.randomUuid, never one that starts with "-": the storage tool would read it as
    an option (one start in 64 failed that way)."""
    while True:
        found = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not found.startswith("-"):
            return found


@dataclass(frozen=True)
class Node:
    """One KRaft node (broker and controller) on loopback."""

    id: int
    port: int
    controller_port: int


def server_properties(workdir: Path, node: Node, nodes: Sequence[Node], extra: dict[str, str] | None = None) -> str:
    """One node of ``nodes`` (all of them voters). One node: every internal topic has one replica. Three: three
    replicas and two in sync, as the DCC runs them, for the internal topics and, by default, every topic."""
    replicas, in_sync = str(len(nodes)), str(min(2, len(nodes)))
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node.id),
        "controller.quorum.voters": ",".join(f"{n.id}@127.0.0.1:{n.controller_port}" for n in nodes),
        "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(workdir / "kafka-data"),
        "num.partitions": "1",
        "default.replication.factor": replicas,
        "min.insync.replicas": in_sync,
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": in_sync,
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": in_sync,
        # A consumer group forms at once instead of waiting 3 s for more members.
        "group.initial.rebalance.delay.ms": "0",
        # Generated traffic and replayed history carry their SRs' own times (years ago): a broker deleting by
        # age would drop them, active segment included, at its next retention check.
        "log.retention.ms": "-1",
        # The log cleaner looks for work every second (default 15 s): a dev broker's compaction shows at once.
        "log.cleaner.backoff.ms": "1000",
        # Transactions left open by a killed producer are aborted soon after their timeout.
        "transaction.abort.timed.out.transaction.cleanup.interval.ms": "2000",
    } | (extra or {})  # a secured node's listeners, TLS, SASL and authorizer
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def log4j_properties(log: Path) -> str:
    return (
        "status = error\n"
        "appender.file.type = File\n"
        "appender.file.name = file\n"
        f"appender.file.fileName = {log}\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.file.ref = file\n"
    )


def prepare(
    workdir: Path,
    node: Node,
    nodes: Sequence[Node] = (),
    cluster: str | None = None,
    extra: dict[str, str] | None = None,
    format_args: Sequence[str] = (),
) -> list[str]:
    """Config written and storage formatted (kept when already formatted): the node's command line. ``nodes``:
    every node of the cluster (default: this one alone), all formatted with one ``cluster`` id; ``extra``
    settings and ``format_args`` (e.g. SCRAM users) for a secured node."""
    java = java_binary()
    libs = resolve_jars()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "kafka-server.properties"
    config.write_text(server_properties(workdir, node, nodes or (node,), extra))
    (workdir / "kafka-log4j2.properties").write_text(log4j_properties(workdir / "kafka-server.log"))
    classpath = f"{libs}/*"
    base = [str(java), *HEAP, *JVM_OPTIONS, f"-Dlog4j2.configurationFile={workdir / 'kafka-log4j2.properties'}"]
    if not (workdir / "kafka-data" / "meta.properties").is_file():
        formatted = subprocess.run(
            [
                *base,
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster or cluster_id(),
                "-c",
                str(config),
                *format_args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if formatted.returncode != 0:
            said = " ".join((formatted.stdout + formatted.stderr).split())[-300:]
            if "ClassNotFound" in said or "Could not find or load main class" in said:
                shutil.rmtree(libs.parent, ignore_errors=True)  # a broken cache: resolved again next time
                raise KafkaUnavailable(f"the Apache Kafka jar cache {libs} is broken; it was removed, start again")
            raise KafkaUnavailable(f"formatting Kafka storage failed: {said}")
    return [*base, "-cp", classpath, "kafka.Kafka", str(config)]
