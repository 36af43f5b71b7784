"""srguard on a secured Apache Kafka and Redis (issue 38): SASL_SSL (SCRAM-SHA-512) and mTLS principals that may
do only what `srguard acls` grants them, the authorizer denying the rest, Redis over TLS with ACL users, no
secret in any output; a permission taken away pauses `run` with one clear line, and once granted again every SR
is decided exactly once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from processor.config import load_settings
from processor.devkit.stack import EmbeddedStack, free_port
from processor.devkit.stack.secure import REDIS_RULES
from processor.kafka.acls import Grant, apply, revoke
from processor.names import Topics
from processor.wiring import redis_client

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    with EmbeddedStack(tmp_path_factory.mktemp("secured"), secure=True, broker="kafka") as stack:
        yield stack


STARTED: list[subprocess.Popen[str]] = []  # every srguard process a test started here


@pytest.fixture(autouse=True)
def _nothing_left_running():
    """A test that fails mid-way leaves no srguard process behind (it would judge the next test's SRs)."""
    yield
    for process in STARTED:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    STARTED.clear()


def _env(stack: EmbeddedStack, user: str, **extra: str) -> dict[str, str]:
    """Only the principal's config file: nothing of the test session's own broker, Redis or settings."""
    own = {k: v for k, v in os.environ.items() if not k.startswith(("SRGUARD_", "KAFKA_", "REDIS_"))}
    config = Path(stack.state.secure) / f"{user}.toml"
    return {**own, "SRGUARD_CONFIG": str(config), "COLUMNS": "200", **extra}


def srguard(stack: EmbeddedStack, user: str, *args: str, cwd: Path | None = None, **env: str) -> str:
    """``args`` run as ``user`` (``env``: e.g. topic names), which must succeed; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "processor", *args],
        env=_env(stack, user, **env),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout + done.stderr


def prepare(stack: EmbeddedStack, cwd: Path | None = None, **env: str) -> None:
    """srguard's topics (named by ``env``), and run's and the feed's grants, made by the stack's admin."""
    srguard(stack, "admin", "topics", "create", cwd=cwd, **env)
    run = ["--principal", "User:srguard-run", "--for", "run", "--no-embedded-feed", "--apply"]
    srguard(stack, "admin", "acls", *run, cwd=cwd, **env)
    srguard(stack, "admin", "acls", "--principal", "User:srguard-feed", "--for", "feed", "--apply", cwd=cwd, **env)


def judge_with_feed(
    stack: EmbeddedStack,
    folder: Path,
    decided: int,
    env: dict[str, str],
    meanwhile: Callable[[Path, Any], None],
    listener: str = "",
) -> None:
    """`srguard feed` as srguard-feed and `srguard run` as srguard-run (the trust store simulate publish wrote
    in ``folder``) until ``decided`` SRs are; ``meanwhile(run log, run process)`` first. ``listener``: "" for
    SASL_SSL, "-mtls" for the principals' client certificates."""
    feed = start(stack, f"srguard-feed{listener}", folder / "feed.log", "feed", **env)
    try:
        wait_for(folder / "feed.log", "feed ready", feed)
        trust = str(folder / "srguard-simulated-oca.pem")
        run = start(stack, f"srguard-run{listener}", folder / "run.log", "run", "--trust-store", trust, **env)
        meanwhile(folder / "run.log", run)
        wait_for(folder / "run.log", f"progress: {decided:,} SRs decided", run)
        assert stop(run) == 0
    finally:
        assert stop(feed) == 0


def start(stack: EmbeddedStack, user: str, log: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    extra = {"SRGUARD_METRICS_PORT": str(free_port()), "SRGUARD_PROGRESS_INTERVAL_S": "0.5", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "processor", *args],
        env=_env(stack, user, **extra),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    STARTED.append(process)
    return process


def wait_for(log: Path, pattern: str, process: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, log.read_text()):
            return
        assert process.poll() is None, f"exited {process.returncode}:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not seen in {timeout:.0f}s:\n{log.read_text()[-3000:]}")


def readyz(port: int) -> tuple[int, str]:
    """/readyz's status and the start of its text (up to the first parenthesis)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            return answer.status, answer.read().decode().split(" (")[0].strip()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode().split(" (")[0].strip()


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(60)


def committed_values(stack: EmbeddedStack, topic: str) -> list[bytes]:
    """Every committed record of ``topic``, read as the stack's super user."""
    settings = load_settings(Path(stack.state.secure) / "admin.toml")
    config = {"group.id": "test-reader", "isolation.level": "read_committed", "enable.partition.eof": True}
    consumer = Consumer(settings.kafka_config("consumer", **config))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    values, ended = [], 0
    deadline = time.monotonic() + 60
    while ended < len(partitions) and time.monotonic() < deadline:
        for message in consumer.consume(500, 1.0):
            if message.error():
                ended += 1
            else:
                values.append(message.value())
    consumer.close()
    return values


def test_least_privilege_principals_over_sasl_ssl_and_mtls_decide_every_sr_once(secured, tmp_path):
    stack, folder = secured, Path(secured.state.secure)
    prepare(stack)
    said = srguard(stack, "admin", "simulate", "publish", "--meter-points", "300", "--srs", "3000", cwd=tmp_path)
    planted = int(re.search(r"([\d,]+) of them planted", said).group(1).replace(",", ""))
    feed = start(stack, "srguard-feed", tmp_path / "feed.log", "feed")
    try:
        wait_for(tmp_path / "feed.log", "feed ready", feed)
        trust = str(tmp_path / "srguard-simulated-oca.pem")
        run = start(stack, "srguard-run", tmp_path / "run.log", "run", "--trust-store", trust)  # SASL_SSL, EOS
        wait_for(tmp_path / "run.log", "progress: 3,000 SRs decided", run)
        assert stop(run) == 0
        more = ["--meter-points", "300", "--srs", "1000", "--seed", "2"]
        srguard(stack, "admin", "simulate", "publish", *more, cwd=tmp_path)
        mtls = start(  # the same principal by its client certificate, at-least-once
            stack, "srguard-run-mtls", tmp_path / "mtls.log", "run", "--trust-store", trust,
            "--processing-guarantee", "at_least_once",
        )  # fmt: skip
        wait_for(tmp_path / "mtls.log", "progress: 1,000 SRs decided", mtls)
        assert stop(mtls) == 0
    finally:
        assert stop(feed) == 0
    decided = committed_values(stack, "dcc.sr.accepted") + committed_values(stack, "dcc.sr.rejected")
    assert len(decided) == 4000 and len(committed_values(stack, "dcc.sr.rejected")) >= planted
    passwords = (folder / "passwords.json").read_text()
    secrets = re.findall(r'"([A-Za-z0-9_-]{24,})"', passwords)
    logs = "".join((tmp_path / name).read_text() for name in ("feed.log", "run.log", "mtls.log"))
    shown = srguard(stack, "srguard-run", "config", "show")
    assert secrets and not any(s in logs or s in shown for s in secrets), "a password in a log or in config show"
    # The run principal may not write the reference data that decides which certificates pass: not the
    # reference topics (no ACL), not Redis (a read-only ACL user).
    refresh = tmp_path / "refresh.csv"
    refresh.write_text("mpxn,network_operator_id,effective_from\n1200000000020,LOND,2020-01-01\n")
    loaded = subprocess.run(
        [sys.executable, "-m", "processor", "registrations", "load", str(refresh)],
        env=_env(stack, "srguard-run"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 2 and "permission denied by Redis" in loaded.stderr, loaded.stderr
    assert "no permissions" in loaded.stderr and "srguard registrations" in loaded.stderr
    run_settings = load_settings(folder / "srguard-run.toml")
    producer = Producer(run_settings.kafka_config("producer", **{"message.timeout.ms": 10000}))
    errors: list[object] = []
    producer.produce("dcc.registration.changes", b"forged", on_delivery=lambda error, _msg: errors.append(error))
    producer.flush(20)
    assert [e.code() for e in errors] == [KafkaError.TOPIC_AUTHORIZATION_FAILED], errors  # type: ignore[union-attr]


DENIALS = [  # (resource, topic role or name, operation): each permission `run` needs, taken away in turn
    ("topic", "requests", "Read"),
    ("group", "srguard", "Read"),
    ("topic", "accepted", "Write"),
    ("topic", "rejected", "Write"),
    ("topic", "responses", "Write"),
    ("topic", "dlq", "Write"),
]


@pytest.mark.parametrize(("resource", "name", "operation"), DENIALS, ids=[f"{r}-{n}-{o}" for r, n, o in DENIALS])
def test_a_denied_permission_pauses_run_with_one_line_and_a_grant_resumes_it_exactly_once(
    secured, tmp_path, resource, name, operation
):
    stack = secured
    settings = load_settings(Path(stack.state.secure) / "admin.toml")
    suffix = f".{resource}-{name}"
    topics = {"SRGUARD_TOPICS__" + k.upper(): f"{v}{suffix}" for k, v in settings.topics.model_dump().items()}
    target = f"{getattr(settings.topics, name)}{suffix}" if resource == "topic" else name
    taken = [Grant("User:srguard-run", resource, target, operation)]

    prepare(stack, tmp_path, **topics)
    world = ["--meter-points", "300", "--srs", "4000", "--seed", "5"]
    said = srguard(stack, "admin", "simulate", "publish", *world, cwd=tmp_path, **topics)
    planted = int(re.search(r"([\d,]+) of them planted", said).group(1).replace(",", ""))
    producer = Producer(settings.kafka_config("producer"))
    producer.produce(topics["SRGUARD_TOPICS__REQUESTS"], b"not an SR", b"00-00-00-00-00-00-00-01")  # one dead letter
    producer.flush(20)
    revoke(settings.kafka_config("admin"), taken)

    def denied_then_granted(log: Path, run: Any) -> None:
        wait_for(log, "pausing: permission denied by the broker \\(.*AUTHORIZATION_FAILED", run)
        apply(settings.kafka_config("admin"), taken)

    judge_with_feed(stack, tmp_path, 4001, topics, denied_then_granted)
    # One line a pause, saying what to do (batches that do not touch the denied topic go on meanwhile, so a
    # pause can end and begin again: each is the same line)
    paused = [line for line in (tmp_path / "run.log").read_text().splitlines() if "pausing:" in line]
    assert paused and all("permission denied by the broker" in p and "srguard acls --principal" in p for p in paused)
    decided = [
        committed_values(stack, f"{getattr(settings.topics, role)}{suffix}") for role in ("accepted", "rejected", "dlq")
    ]
    assert [len(d) for d in decided] == [4000 - planted, planted, 1], "every SR decided once, none lost"
    assert len(set(decided[1])) == planted


def test_strict_acls_refuses_a_principal_that_may_write_its_input(secured, tmp_path):
    stack = secured
    settings = load_settings(Path(stack.state.secure) / "admin.toml")
    prepare(stack)
    srguard(stack, "srguard-feed", "feed", "--once")  # Redis as `run` finds it: fed

    def strict_run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "processor", "run", "--strict-acls", "--mode", "audit"],
            env=_env(stack, "srguard-run", SRGUARD_METRICS_PORT=str(free_port())),
            capture_output=True,
            text=True,
            timeout=60,
        )

    unverifiable = strict_run()
    assert unverifiable.returncode == 2, unverifiable.stderr[-1500:]
    assert "will not list its ACLs to User:srguard-run" in unverifiable.stderr
    describe = [Grant("User:srguard-run", "cluster", "kafka-cluster", "Describe")]
    too_wide = [Grant("User:srguard-run", "topic", "dcc.sr.requests", "Write")]
    apply(settings.kafka_config("admin"), describe + too_wide)
    try:
        refused = strict_run()
        assert refused.returncode == 2, refused.stderr[-1500:]
        assert "strict_acls: User:srguard-run may write dcc.sr.requests" in refused.stderr
    finally:
        revoke(settings.kafka_config("admin"), describe + too_wide)


LISTENERS = {"sasl_ssl": "", "mtls": "-mtls"}


@pytest.mark.parametrize("listener", LISTENERS.values(), ids=LISTENERS.keys())
def test_duis_input_and_a_topic_replay_run_as_least_privilege_principals(secured, tmp_path, listener):
    """DUIS SRs judged by srguard-run (the feed as srguard-feed); history re-judged by srguard-analyst with only
    the replay's grants (its own prefixed topics, group and transactional id; Redis read-only), and the suspect
    registrations found and published by it with only suspects' grants: over SASL_SSL, and over mTLS (the same
    principals by their client certificates)."""
    stack = secured
    topics = {"SRGUARD_TOPICS__" + k.upper(): f"{v}.duis{listener}" for k, v in Topics().model_dump().items()}
    duis = {**topics, "SRGUARD_INPUT_FORMAT": "duis"}
    if listener:  # mTLS at-least-once, SASL_SSL exactly-once (the Avro test has them the other way round)
        duis["SRGUARD_PROCESSING_GUARANTEE"] = "at_least_once"

    prepare(stack, tmp_path, **duis)
    replay = ["--principal", "User:srguard-analyst", "--for", "replay-topic", "--output-prefix", "r."]
    srguard(stack, "admin", "acls", *replay, "--apply", cwd=tmp_path, **duis)
    # (its own seed: Redis is the module's, and this world registers 5% of its MPxNs to the wrong NO)
    world = ["--duis", "--meter-points", "300", "--srs", "4000", "--seed", "7", "--wrong-registrations", "0.05"]
    said = srguard(stack, "admin", "simulate", "publish", *world, cwd=tmp_path, **duis)
    planted = int(re.search(r"([\d,]+) of them planted", said).group(1).replace(",", ""))
    judge_with_feed(stack, tmp_path, 4000, duis, lambda _log, _run: None, listener)
    assert len(committed_values(stack, f"dcc.sr.rejected.duis{listener}")) == planted
    trust = str(tmp_path / "srguard-simulated-oca.pem")
    judge = ["--output-prefix", "r.", "--mode", "enforce", "--trust-store", trust]
    replayed = srguard(stack, f"srguard-analyst{listener}", "replay", "topic", *judge, cwd=tmp_path, **duis)
    assert "replayed 4,000 SRs" in replayed and f"{planted:,} rejected" in replayed, replayed
    # The registration data's suspects, by the analyst with only suspects' grants (Redis read-only)
    srguard(stack, "admin", "acls", "--principal", "User:srguard-analyst", "--for", "suspects", "--apply", **duis)
    srguard(stack, "admin", "ledger", "baseline", "srguard-simulated-truth/cells.csv", cwd=tmp_path, **duis)
    truth = ["--truth", "srguard-simulated-truth/planted.csv", "--publish"]
    found = srguard(stack, f"srguard-analyst{listener}", "suspects", *truth, cwd=tmp_path, **duis)
    listed = int(re.search(r"published ([\d,]+) suspects", found).group(1))
    assert listed and f"precision 100.0% ({listed} of {listed} listed)" in found, found
    assert len(committed_values(stack, f"dcc.registration.suspects.duis{listener}")) == listed


def test_run_that_may_only_read_redis_waits_for_the_feed_on_an_empty_one(secured, tmp_path):
    """srguard-run (Redis read-only) started before any feed built Redis (a new or flushed one) waits, saying
    so, instead of exiting (under Kubernetes that is a crash loop); once the feed has built it, every SR is
    decided once."""
    stack = secured
    topics = {"SRGUARD_TOPICS__" + k.upper(): f"{v}.empty" for k, v in Topics().model_dump().items()}
    prepare(stack, tmp_path, **topics)
    world = ["--meter-points", "200", "--srs", "1000", "--seed", "7"]
    said = srguard(stack, "admin", "simulate", "publish", *world, cwd=tmp_path, **topics)
    planted = int(re.search(r"([\d,]+) of them planted", said).group(1).replace(",", ""))
    redis_client(load_settings(Path(stack.state.secure) / "admin.toml")).flushall()
    trust = str(tmp_path / "srguard-simulated-oca.pem")
    run = start(stack, "srguard-run", tmp_path / "run.log", "run", "--trust-store", trust, **topics)
    wait_for(tmp_path / "run.log", "waiting up to 300s .*waiting for srguard feed: no status in Redis", run)
    time.sleep(3)  # still waiting, not exited
    assert run.poll() is None, (tmp_path / "run.log").read_text()[-2000:]
    feed = start(stack, "srguard-feed", tmp_path / "feed.log", "feed", **topics)
    try:
        wait_for(tmp_path / "run.log", "progress: 1,000 SRs decided", run)
        assert stop(run) == 0
    finally:
        assert stop(feed) == 0
    decided = [committed_values(stack, f"{name}.empty") for name in ("dcc.sr.accepted", "dcc.sr.rejected")]
    assert [len(d) for d in decided] == [1000 - planted, planted]


@pytest.mark.parametrize("listener", LISTENERS.values(), ids=LISTENERS.keys())
def test_sigkill_mid_stream_as_a_least_privilege_principal_decides_every_sr_once(secured, tmp_path, listener):
    """srguard-run killed (SIGKILL) while it decides, exactly-once, then started again as the same principal:
    its transactional id (the ACL's prefix) fences the dead one's open batch, and every SR is decided once."""
    stack = secured
    topics = {"SRGUARD_TOPICS__" + k.upper(): f"{v}.kill{listener}" for k, v in Topics().model_dump().items()}
    env = {**topics, "SRGUARD_BATCH_SIZE": "50", "SRGUARD_TRANSACTIONAL_ID": f"srguard-kill{listener}"}
    prepare(stack, tmp_path, **env)
    world = ["--meter-points", "300", "--srs", "6000", "--seed", "9"]
    said = srguard(stack, "admin", "simulate", "publish", *world, cwd=tmp_path, **topics)
    planted = int(re.search(r"([\d,]+) of them planted", said).group(1).replace(",", ""))
    trust = str(tmp_path / "srguard-simulated-oca.pem")
    feed = start(stack, f"srguard-feed{listener}", tmp_path / "feed.log", "feed", **env)
    try:
        wait_for(tmp_path / "feed.log", "feed ready", feed)
        killed = start(stack, f"srguard-run{listener}", tmp_path / "killed.log", "run", "--trust-store", trust, **env)
        wait_for(tmp_path / "killed.log", "progress: [1-9][\\d,]* SRs decided", killed)
        killed.kill()
        assert killed.wait(30) == -signal.SIGKILL
        before = [committed_values(stack, f"{n}.kill{listener}") for n in ("dcc.sr.accepted", "dcc.sr.rejected")]
        assert 0 < sum(map(len, before)) < 6000, "killed mid-stream"
        run = start(stack, f"srguard-run{listener}", tmp_path / "run.log", "run", "--trust-store", trust, **env)
        decided = [committed_values(stack, f"{name}.kill{listener}") for name in ("dcc.sr.accepted", "dcc.sr.rejected")]
        deadline = time.monotonic() + 180
        while sum(map(len, decided)) < 6000 and time.monotonic() < deadline:
            assert run.poll() is None, (tmp_path / "run.log").read_text()[-2000:]
            time.sleep(2)
            decided = [committed_values(stack, f"{n}.kill{listener}") for n in ("dcc.sr.accepted", "dcc.sr.rejected")]
        assert stop(run) == 0
    finally:
        assert stop(feed) == 0
    assert [len(d) for d in decided] == [6000 - planted, planted], "every SR decided once across the kill"
    assert len(set(decided[0])) == 6000 - planted and len(set(decided[1])) == planted


FEED_DENIALS = [  # what `run` with its embedded feed needs beyond the above: the reference data's topics
    ("topic", "registrations", "Read"),
    ("topic", "parties", "Read"),
    ("topic", "devices", "Read"),
    ("topic", "registrations", "DescribeConfigs"),
    ("group", "srguard-feed", "Read"),
]


@pytest.mark.parametrize(
    ("resource", "name", "operation"), FEED_DENIALS, ids=[f"{r}-{n}-{o}" for r, n, o in FEED_DENIALS]
)
def test_a_denied_reference_permission_holds_run_with_its_feed_until_granted(
    secured, tmp_path, resource, name, operation
):
    """`run` with its embedded feed (Kafka as srguard-run, Redis as the feed's writer): a reference topic it may
    not read or describe, or the feed's group, is one line naming it, /readyz says so, nothing is decided on
    partial reference data; once granted, every SR is decided once."""
    stack = secured
    settings = load_settings(Path(stack.state.secure) / "admin.toml")
    suffix = f".feed-{resource}-{name}-{operation}".lower()
    topics = {"SRGUARD_TOPICS__" + k.upper(): f"{v}{suffix}" for k, v in settings.topics.model_dump().items()}
    target = f"{getattr(settings.topics, name)}{suffix}" if resource == "topic" else name
    taken = [Grant("User:srguard-run", resource, target, operation)]
    writer = load_settings(Path(stack.state.secure) / "srguard-feed.toml").redis_url.get_secret_value()
    env = {**topics, "SRGUARD_EMBEDDED_FEED": "true", "SRGUARD_REDIS_URL": writer}
    srguard(stack, "admin", "topics", "create", cwd=tmp_path, **topics)
    srguard(
        stack, "admin", "acls", "--principal", "User:srguard-run", "--for", "run", "--apply", cwd=tmp_path, **topics
    )
    world = ["--meter-points", "300", "--srs", "2000", "--seed", "4"]
    said = srguard(stack, "admin", "simulate", "publish", *world, cwd=tmp_path, **topics)
    planted = int(re.search(r"([\d,]+) of them planted", said).group(1).replace(",", ""))
    redis_client(settings).flushall()  # nothing left of an earlier test's reference data
    revoke(settings.kafka_config("admin"), taken)
    trust = str(tmp_path / "srguard-simulated-oca.pem")
    if operation == "DescribeConfigs":  # checked before anything starts: one line, exit 2, nothing done
        refused = subprocess.run(
            [sys.executable, "-m", "processor", "run", "--trust-store", trust],
            env=_env(stack, "srguard-run", SRGUARD_METRICS_PORT=str(free_port()), **env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 2, refused.stderr[-2000:]
        line = f"may not DescribeConfigs on topic {target}"
        assert line in refused.stderr and "Traceback" not in refused.stderr, refused.stderr[-2000:]
        apply(settings.kafka_config("admin"), taken)
        run = start(stack, "srguard-run", tmp_path / "run.log", "run", "--trust-store", trust, **env)
    else:
        port = free_port()
        run = start(
            stack,
            "srguard-run",
            tmp_path / "run.log",
            "run",
            "--trust-store",
            trust,
            **env,
            SRGUARD_METRICS_PORT=str(port),
        )
        refused_on = target if resource == "topic" else f"group {target}"
        wait_for(tmp_path / "run.log", f"feed held: permission denied by the broker .* on {refused_on}: ", run, 60)
        held = (503, "reference feed held: permission denied by the broker")
        deadline = time.monotonic() + 10  # the line is logged as the refusal is read, /readyz after its batch
        while readyz(port) != held and time.monotonic() < deadline:
            time.sleep(0.2)
        assert readyz(port) == held, "/readyz says why"
        apply(settings.kafka_config("admin"), taken)
    wait_for(tmp_path / "run.log", "progress: 2,000 SRs decided", run, timeout=180)
    assert stop(run) == 0
    decided = [committed_values(stack, f"{getattr(settings.topics, r)}{suffix}") for r in ("accepted", "rejected")]
    assert [len(d) for d in decided] == [2000 - planted, planted], "every SR decided once, none lost"


REDIS_DENIALS = [("srguard-run", "-@read", "run", "pausing: "), ("srguard-feed", "-@write", "feed", "error: ")]


def _restore(admin: Any, user: str) -> None:
    """The user's commands as the stack made them (its key patterns were never changed)."""
    rules = [r for r in REDIS_RULES[user].split() if not r.startswith(("~", "&"))]
    admin.acl_setuser(user, enabled=True, categories=[r for r in rules if "@" in r],
                      commands=[r for r in rules if "@" not in r])  # fmt: skip


@pytest.mark.parametrize(("user", "taken", "component", "said"), REDIS_DENIALS, ids=["run-read", "feed-write"])
def test_a_redis_permission_taken_away_pauses_with_one_line_and_nothing_is_lost(
    secured, tmp_path, user, taken, component, said
):
    """Redis refusing run its reads (taken while it runs), or the feed its writes (from its start): the component
    pauses with one line naming Redis's refusal (run's /readyz: paused, and why); the rule restored, every SR is
    decided once."""
    stack = secured
    admin = redis_client(load_settings(Path(stack.state.secure) / "admin.toml"))
    admin.flushall()
    topics = {"SRGUARD_TOPICS__" + k.upper(): f"{v}.redis-{component}" for k, v in Topics().model_dump().items()}
    prepare(stack, tmp_path, **topics)
    world = ["--meter-points", "300", "--srs", "1500", "--seed", "8"]
    port = free_port()
    run_env = {**topics, "SRGUARD_METRICS_PORT": str(port)}
    trust = str(tmp_path / "srguard-simulated-oca.pem")
    try:
        if component == "feed":
            published = srguard(stack, "admin", "simulate", "publish", *world, cwd=tmp_path, **topics)
            admin.acl_setuser(user, enabled=True, categories=[taken])
        feed = start(stack, "srguard-feed", tmp_path / "feed.log", "feed", **topics)
        if component == "run":
            wait_for(tmp_path / "feed.log", "feed ready", feed)
            # No trust store yet (simulate publish writes it): the issuers go unchecked, the owners are judged
            untrusted = "--allow-untrusted-certificates"
            run = start(stack, "srguard-run", tmp_path / "run.log", "run", untrusted, **run_env)
            wait_for(tmp_path / "run.log", "assigned 6 partitions", run)
            admin.acl_setuser(user, enabled=True, categories=[taken])
            published = srguard(stack, "admin", "simulate", "publish", *world, cwd=tmp_path, **topics)
            wait_for(tmp_path / "run.log", f"{said}permission denied by Redis \\(.*no permissions", run)
            assert readyz(port)[0] == 503 and "paused: permission denied by Redis" in readyz(port)[1]
        else:  # refused its first write (the mark saying Redis is being built): one line, exit 2, nothing done
            assert feed.wait(60) == 2
            refused = (tmp_path / "feed.log").read_text()
            assert re.search(f"{said}permission denied by Redis \\(.*no permissions", refused), refused[-2000:]
            _restore(admin, user)
            feed = start(stack, "srguard-feed", tmp_path / "feed-again.log", "feed", **topics)
            run = start(stack, "srguard-run", tmp_path / "run.log", "run", "--trust-store", trust, **run_env)
        _restore(admin, user)
        wait_for(tmp_path / "run.log", "progress: 1,500 SRs decided", run, timeout=180)
        assert stop(run) == 0
        assert stop(feed) == 0
    finally:
        _restore(admin, user)
    planted = int(re.search(r"([\d,]+) of them planted", published).group(1).replace(",", ""))
    paused = [line for line in (tmp_path / f"{component}.log").read_text().splitlines() if said in line]
    assert paused and all("permission denied by Redis" in line for line in paused), paused
    decided = [committed_values(stack, f"{n}.redis-{component}") for n in ("dcc.sr.accepted", "dcc.sr.rejected")]
    assert [len(d) for d in decided] == [1500 - planted, planted], "every SR decided once, none lost"
