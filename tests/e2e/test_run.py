"""`srguard run` end to end: the real process, the real broker, the real Redis."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
from confluent_kafka import Consumer

from processor.avro import codec
from processor.stream.serde import encode_service_request
from tests.e2e.srguard_process import SrguardRun, make_world

pytestmark = pytest.mark.e2e


@pytest.fixture
def world(kafka_bootstrap, redis_url, unique, tmp_path):
    return make_world(kafka_bootstrap, redis_url, unique, tmp_path)


def _by_request_id(messages, decode_rejection: bool) -> dict[str, list]:
    found: dict[str, list] = {}
    for msg in messages:
        if decode_rejection:
            request_id = codec("SrRejection").decode(msg.value())["request_id"]
        else:
            request_id = codec("ServiceRequest").decode(msg.value())["request_id"]
        found.setdefault(request_id, []).append(msg)
    return found


def test_every_sr_is_decided_once_byte_identical_and_counted(world):
    traffic = world.traffic(3000)
    world.publish(traffic)
    run = SrguardRun(world, SRGUARD_PROGRESS_INTERVAL_S="0.5")
    try:
        run.wait_ready()
        run.wait_consumed(len(traffic))
        deadline = time.monotonic() + 10  # the progress line says what the metrics say
        while f"progress: {len(traffic):,} SRs decided" not in run.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        expected_rejected = [i for i in traffic if i.rejected]
        accepted = world.outputs(world.topics.accepted, len(traffic) - len(expected_rejected))
        rejected = world.outputs(world.topics.rejected, len(expected_rejected))
        metrics = {
            name: run.metric(name)
            for name in (
                "srguard_sr_consumed_total",
                "srguard_sr_accepted_total",
                "srguard_sr_rejected_total",
                "srguard_sr_dlq_total",
                "srguard_transactions_total",
            )
        }
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    accepted_ids, rejected_ids = _by_request_id(accepted, False), _by_request_id(rejected, True)
    assert all(len(v) == 1 for v in accepted_ids.values()) and all(len(v) == 1 for v in rejected_ids.values())
    assert set(accepted_ids) | set(rejected_ids) == {i.sr.request_id for i in traffic}
    assert not set(accepted_ids) & set(rejected_ids)
    for item in traffic:
        if item.rejected:
            rejection = codec("SrRejection").decode(rejected_ids[item.sr.request_id][0].value())
            assert rejection["reason"] == item.reason.value
            assert rejection["response_code"].startswith(
                "E0615" if item.sr.service_reference_variant == "6.15.1" else "E0621"
            )
            assert rejection["original"] == encode_service_request(item.sr)
            assert rejection["source_topic"] == world.topics.requests
        else:
            msg = accepted_ids[item.sr.request_id][0]
            assert msg.value() == encode_service_request(item.sr), "accepted value must be byte-identical"
            assert msg.key() == item.sr.target_device_id.encode()
            assert ("srguard-outcome", b"accepted") in msg.headers()
    assert metrics["srguard_sr_consumed_total"] == len(traffic)
    progress = [line for line in run.log.read_text().splitlines() if "srguard.progress: progress:" in line]
    assert any(f"{len(traffic):,} SRs decided" in line and f"{len(rejected):,} rejected" in line for line in progress)
    assert metrics["srguard_sr_accepted_total"] == len(accepted)
    assert metrics["srguard_sr_rejected_total"] == len(rejected)
    assert metrics["srguard_sr_dlq_total"] == 0
    assert metrics["srguard_transactions_total"] >= 1
    assert Counter(codec("SrRejection").decode(m.value())["reason"] for m in rejected) == Counter(
        i.reason.value for i in expected_rejected
    )


def test_audit_mode_passes_everything_and_records_would_be_rejections(world):
    traffic = world.traffic(1500, seed=2)
    world.publish(traffic)
    run = SrguardRun(world, "--mode", "audit", "--processing-guarantee", "at_least_once")
    try:
        run.wait_ready()
        run.wait_consumed(len(traffic))
        accepted = world.outputs(world.topics.accepted, len(traffic))
        audit = world.outputs(world.topics.audit, sum(1 for i in traffic if i.rejected))
        rejected = world.outputs(world.topics.rejected, 1, timeout=3)
        audited_metric = run.metric("srguard_sr_audited_total")
    finally:
        assert run.stop() == 0
    assert len(accepted) == len(traffic) and not rejected
    assert len(audit) == sum(1 for i in traffic if i.rejected) == audited_metric
    assert {codec("SrRejection").decode(m.value())["request_id"] for m in audit} == {
        i.sr.request_id for i in traffic if i.rejected
    }


def test_garbage_goes_to_the_dlq_and_the_stream_goes_on(world):
    traffic = world.traffic(200, seed=3)
    world.publish(traffic[:100])
    world.producer.produce(world.topics.requests, b"\x00\x01 not avro", b"bad-key", headers=[("trace", b"x")])
    world.producer.flush(10)
    world.publish(traffic[100:])
    run = SrguardRun(world)
    try:
        run.wait_ready()
        run.wait_consumed(201)
        (dead,) = world.outputs(world.topics.dlq, 1)
        dlq_metric = run.metric("srguard_sr_dlq_total")
    finally:
        assert run.stop() == 0
    headers = dict(dead.headers())
    assert dead.value() == b"\x00\x01 not avro" and dead.key() == b"bad-key"
    assert headers["srguard-error-class"] == b"undecodable" and headers["trace"] == b"x"
    assert headers["srguard-source-topic"] == world.topics.requests.encode()
    assert int(headers["srguard-source-offset"]) >= 0 and dlq_metric == 1


def test_dlq_flood_limit_stops_the_process_with_a_clear_error(world):
    for i in range(60):
        world.producer.produce(world.topics.requests, f"garbage {i}".encode(), b"k")
    world.producer.flush(10)
    run = SrguardRun(world, SRGUARD_DLQ_MAX_CONSECUTIVE="50")
    code = run.process.wait(90)
    run.stop()
    log = run.log.read_text()
    assert code == 3, log[-2000:]
    assert "DLQ flood limit" in log and "50 consecutive" in log
    assert not world.outputs(world.topics.dlq, 1, timeout=3), "a flooded batch must not be committed"


def test_sigterm_mid_stream_then_restart_loses_nothing(world):
    traffic = world.traffic(6000, seed=4)
    world.publish(traffic)
    first = SrguardRun(world, SRGUARD_BATCH_SIZE="100")
    first.wait_ready()
    first.wait_consumed(500)
    decided_before_stop = first.metric("srguard_sr_consumed_total")
    assert first.stop() == 0, first.log.read_text()[-2000:]
    assert 500 <= decided_before_stop < len(traffic), "the stop did not fall mid-stream"
    second = SrguardRun(world)
    try:
        second.wait_ready()
        expected_rejected = sum(1 for i in traffic if i.rejected)
        accepted = world.outputs(world.topics.accepted, len(traffic) - expected_rejected, timeout=90)
        rejected = world.outputs(world.topics.rejected, expected_rejected, timeout=30)
    finally:
        assert second.stop() == 0
    ids = [codec("ServiceRequest").decode(m.value())["request_id"] for m in accepted] + [
        codec("SrRejection").decode(m.value())["request_id"] for m in rejected
    ]
    assert Counter(ids) == Counter(i.sr.request_id for i in traffic), "lost or duplicated SRs across the restart"


def test_two_processes_split_the_partitions_and_decide_every_sr_once(world):
    traffic = world.traffic(4000, seed=5)
    a = SrguardRun(world)
    b = SrguardRun(world)
    try:
        a.wait_ready()
        b.wait_ready()
        world.publish(traffic)
        expected_rejected = sum(1 for i in traffic if i.rejected)
        accepted = world.outputs(world.topics.accepted, len(traffic) - expected_rejected, timeout=90)
        rejected = world.outputs(world.topics.rejected, expected_rejected, timeout=30)
        consumed = (a.metric("srguard_sr_consumed_total"), b.metric("srguard_sr_consumed_total"))
        readiness = (a.get("/readyz")[1], b.get("/readyz")[1])
    finally:
        assert a.stop() == 0 and b.stop() == 0
    ids = [codec("ServiceRequest").decode(m.value())["request_id"] for m in accepted] + [
        codec("SrRejection").decode(m.value())["request_id"] for m in rejected
    ]
    assert Counter(ids) == Counter(i.sr.request_id for i in traffic)
    assert sum(consumed) == len(traffic) and all(c > 0 for c in consumed), consumed
    assert all("partitions assigned" in r for r in readiness), readiness


def test_http_endpoint_serves_only_its_three_paths_and_no_secrets(world):
    run = SrguardRun(world, SRGUARD_REDIS_URL=world.redis.replace("redis://", "redis://default:s3cret-pw@"))
    try:
        run.wait_ready()
        assert run.get("/healthz") == (200, "ok\n")
        status, body = run.get("/metrics")
        assert status == 200 and "srguard_build_info" in body and "s3cret-pw" not in body
        assert run.get("/config")[0] == 404 and run.get("/")[0] == 404
    finally:
        assert run.stop() == 0
    assert "s3cret-pw" not in run.log.read_text()


def test_a_slow_group_join_is_reported_while_it_lasts(world):
    """Another member that stops polling holds the join up to its max.poll.interval.ms: srguard says so."""
    blocker = Consumer(
        {
            "bootstrap.servers": world.kafka,
            "group.id": f"g{world.unique}",
            "session.timeout.ms": 10_000,
            "max.poll.interval.ms": 12_000,
        }
    )
    blocker.subscribe([world.topics.requests])
    deadline = time.monotonic() + 30
    while not blocker.assignment() and time.monotonic() < deadline:
        blocker.poll(0.2)
    assert blocker.assignment(), "the blocking member never joined"
    run = SrguardRun(world, SRGUARD_LOG_LEVEL="info")
    try:
        run.wait_ready(timeout=60)  # after the blocker's poll interval has passed
    finally:
        assert run.stop() == 0
        blocker.close()
    log = run.log.read_text()
    assert f"joining consumer group g{world.unique}" in log
    assert re.search(rf"still joining consumer group g{world.unique} \(\d+s\)", log), log[-2000:]
    assert re.search(r"assigned 3 partitions after \d+\.\ds", log), log[-2000:]


def test_ctrl_c_while_starting_stops_at_once(world):
    """Ctrl-C before the feed is ready or the group is joined: out within seconds, exit 0 (it took 30 s and
    exited 6 once)."""
    import signal

    run = SrguardRun(world)
    deadline = time.monotonic() + 30
    while "serving /metrics" not in run.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    run.process.send_signal(signal.SIGINT)
    started = time.monotonic()
    try:
        code = run.process.wait(20)
    finally:
        run.stop()
    assert code == 0 and time.monotonic() - started < 5, run.log.read_text()[-2000:]
