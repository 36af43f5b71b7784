"""One poison record of each kind among normal traffic, through the real `srguard run`, broker and Redis:
every other SR is decided right and exactly once, the process stays up, and a later change of Network
Operator is still applied."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

import pytest
from confluent_kafka import Producer

from processor.avro import codec
from processor.devkit.simulate.traffic import LabelledSR
from processor.domain.decision import Reason
from processor.domain.model import Party, Registration
from processor.registration.publish import publish, publish_parties, publish_registrations
from processor.stream.serde import encode_service_request
from tests import proc
from tests.e2e.srguard_process import SrguardRun, World, make_world
from tests.reliability.redis_process import RestartableRedis
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e
DAY = 86_400_000


@pytest.fixture
def world(kafka_bootstrap, redis_url, unique, tmp_path):
    return make_world(kafka_bootstrap, redis_url, unique, tmp_path, meter_points=300)


def version_100(der: bytes) -> bytes:
    """An otherwise valid SMKI certificate whose X.509 version INTEGER is 100 (cryptography: InvalidVersion)."""
    return der.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020164"), 1)


def request_id(msg, schema: str = "ServiceRequest") -> str:
    return codec(schema).decode(msg.value())["request_id"]


def check_decided_once(world: World, traffic: list[LabelledSR], extra_rejected: int = 0, extra_dlq: int = 0) -> list:
    """Every SR of ``traffic`` in the place its label says, once (read_committed); returns the DLQ records."""
    rejected_ids = {i.sr.request_id for i in traffic if i.rejected}
    accepted = world.outputs(world.topics.accepted, len(traffic) - len(rejected_ids))
    rejected = world.outputs(world.topics.rejected, len(rejected_ids) + extra_rejected)
    dead = world.outputs(world.topics.dlq, extra_dlq, timeout=30) if extra_dlq else []
    time.sleep(2)  # anything written twice would be there by now
    accepted = world.outputs(world.topics.accepted, len(accepted) + 1, timeout=5)  # one more is a duplicate
    accepted_counts = Counter(request_id(m) for m in accepted)
    assert set(accepted_counts) == {i.sr.request_id for i in traffic if not i.rejected}
    assert max(accepted_counts.values()) == 1, "an SR was accepted twice"
    rejected_counts = Counter(request_id(m, "SrRejection") for m in rejected)
    assert rejected_ids <= set(rejected_counts) and max(rejected_counts.values()) == 1
    return dead


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
def test_a_certificate_that_crashed_the_processor_is_one_rejection(world, guarantee):
    traffic = world.traffic(400, seed=3)
    point = next(p for p in world.population.meter_points if p.registrations and p.device_type.value == "ESME")
    registered = point.registration_at(2_000_000_000_000).network_operator_id
    sr = world.handover(point, registered, 1_700_000_000_000, 99)
    poison = replace(sr, certificates=tuple(replace(c, der=version_100(c.der)) for c in sr.certificates))
    world.publish(traffic[:200])
    world.publish([LabelledSR(poison, None, None)])  # type: ignore[arg-type]
    world.publish(traffic[200:])
    run = SrguardRun(world, SRGUARD_PROCESSING_GUARANTEE=guarantee)
    try:
        run.wait_ready()
        run.wait_consumed(len(traffic) + 1)
        check_decided_once(world, traffic, extra_rejected=1)
        rejections = world.outputs(world.topics.rejected, sum(i.rejected for i in traffic) + 1)
        assert run.process.poll() is None, "srguard exited on a certificate"
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    (mine,) = [
        codec("SrRejection").decode(m.value()) for m in rejections if request_id(m, "SrRejection") == poison.request_id
    ]
    assert mine["reason"] == Reason.MALFORMED_CERTIFICATE.value and "InvalidVersion" in mine["detail"]


def test_a_directory_record_no_store_can_take_leaves_the_feed_running(world):
    point = next(p for p in world.population.meter_points if p.registrations and p.device_type.value == "ESME")
    old = point.registration_at(2_000_000_000_000)
    new_operator = next(o for o in world.population.network_operators if o != old.network_operator_id)
    traffic = world.traffic(200, seed=5)
    publish_parties(world.producer, world.topics.parties, [("not-an-eui", Party("LOND", "ED"))])
    world.publish(traffic)
    run = SrguardRun(world)
    try:
        run.wait_ready()
        run.wait_consumed(len(traffic))
        assert run.metric("srguard_feed_rejected_records_total") == 1
        # The meter point changes Network Operator; SRs after the change place the new one's certificates.
        change_at = max(old.effective_from, 1_750_000_000_000)
        publish_registrations(
            world.producer,
            world.topics.registrations,
            [Registration(old.mpxn, old.fuel, new_operator, old.supplier_id, change_at, old.sequence + 1000)],
        )
        applied = lambda: world.registered_operator(old.mpxn, change_at) == new_operator  # noqa: E731
        wait_for(applied, "the feed to apply the change of network operator", timeout=30)
        placements = [
            LabelledSR(world.handover(point, new_operator, change_at + DAY, n), None, None) for n in range(20)
        ]
        world.publish(placements)  # type: ignore[arg-type]
        accepted = world.outputs(world.topics.accepted, len(traffic) - sum(i.rejected for i in traffic) + 20)
        assert run.get("/readyz")[0] == 200 and run.get("/healthz")[0] == 200
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    ids = {request_id(m) for m in accepted}
    assert {p.sr.request_id for p in placements} <= ids, "SRs placing the new NO's certificates were not accepted"


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
def test_an_sr_too_large_to_forward_goes_to_the_dlq_and_nothing_wedges(world, guarantee):
    traffic = world.traffic(300, seed=7)
    big_out_of_scope = next(i for i in world.traffic(50, seed=8) if not i.rejected and not i.sr.certificates)
    big = replace(big_out_of_scope.sr, request_id="big", payload=b"p" * 1_009_000)
    value = encode_service_request(big)
    assert len(value) > 1_000_000  # over librdkafka's default message.max.bytes
    producer = Producer({"bootstrap.servers": world.kafka, "message.max.bytes": 2_000_000})
    world.publish(traffic[:150])
    publish(producer, world.topics.requests, [(big.target_device_id.encode(), value, 0)])
    world.publish(traffic[150:])
    run = SrguardRun(world, SRGUARD_PROCESSING_GUARANTEE=guarantee)
    try:
        run.wait_ready()
        run.wait_consumed(len(traffic) + 1)
        (dead,) = check_decided_once(world, traffic, extra_dlq=1)
        ready = run.get("/readyz")[0]
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    headers = dict(dead.headers())
    assert headers["srguard-error-class"] == b"too_large" and headers["srguard-truncated"] == str(len(value)).encode()
    assert value.startswith(dead.value()) and len(dead.value()) < 1_000_000 and ready == 200


def test_a_rejection_of_a_large_sr_carries_a_cut_original(world):
    point = next(p for p in world.population.meter_points if p.registrations and p.device_type.value == "ESME")
    registered = point.registration_at(2_000_000_000_000).network_operator_id
    foreign = next(o for o in world.population.network_operators if o != registered)
    sr = replace(world.handover(point, foreign, 1_900_000_000_000, 1), payload=b"q" * 999_000)
    value = encode_service_request(sr)  # fits the input topic; with a rejection's fields around it, no output
    producer = Producer({"bootstrap.servers": world.kafka, "message.max.bytes": 2_000_000})
    publish(producer, world.topics.requests, [(sr.target_device_id.encode(), value, 0)])
    run = SrguardRun(world)
    try:
        run.wait_ready()
        (out,) = world.outputs(world.topics.rejected, 1)
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    rejection = codec("SrRejection").decode(out.value())
    assert rejection["reason"] == Reason.FOREIGN_NETWORK_OPERATOR.value
    assert value.startswith(rejection["original"]) and len(rejection["original"]) < len(value)
    assert dict(out.headers())["srguard-original-truncated"] == str(len(value)).encode()


def test_a_hung_redis_pauses_and_fails_liveness_instead_of_hanging(kafka_bootstrap, unique, tmp_path):
    server = RestartableRedis(tmp_path).start()
    try:
        world = make_world(kafka_bootstrap, server.url, unique, tmp_path, meter_points=300)
        traffic = world.traffic(1500, seed=11)
        run = SrguardRun(world, SRGUARD_BATCH_SIZE="50", SRGUARD_REDIS_SOCKET_TIMEOUT_S="2")
        run.wait_ready()
        world.publish(traffic[:300])
        run.wait_consumed(300)
        server.freeze()
        world.publish(traffic[300:])
        paused, why = False, ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not paused:
            status, why = run.get("/readyz")
            paused = status == 503 and "redis unavailable" in why
            time.sleep(0.3)
        server.thaw()
        check_decided_once(world, traffic)
        assert run.get("/readyz")[0] == 200
        assert run.stop() == 0, run.log.read_text()[-3000:]
    finally:
        server.thaw() if server.process else None
        server.stop()
    assert paused, f"a hung Redis was never reported (last /readyz: {why!r})"


def test_rss_of_the_process_stays_flat_with_a_recurring_bad_certificate(world):
    """The same truncated certificate on one SR in five: each failure used to keep its batch alive."""
    point = next(p for p in world.population.meter_points if p.registrations and p.device_type.value == "ESME")
    registered = point.registration_at(2_000_000_000_000).network_operator_id
    sr = world.handover(point, registered, 1_700_000_000_000, 0)
    cut = tuple(replace(c, der=c.der[: len(c.der) // 2]) for c in sr.certificates)
    normal = world.traffic(2000, seed=9)

    def chunk(start: int, count: int) -> list[LabelledSR]:
        return [
            LabelledSR(replace(sr, request_id=f"bad-{n}", certificates=cut), None, None)  # type: ignore[arg-type]
            if n % 5 == 0
            else normal[n % len(normal)]
            for n in range(start, start + count)
        ]

    run = SrguardRun(world, SRGUARD_PROCESSING_GUARANTEE="at_least_once", SRGUARD_BATCH_SIZE="50")
    try:
        run.wait_ready()
        world.publish(chunk(0, 10_000))
        run.wait_consumed(10_000, timeout=120)
        before = proc.rss_mb(run.process.pid)
        world.publish(chunk(10_000, 40_000))
        run.wait_consumed(50_000, timeout=300)
        after = proc.rss_mb(run.process.pid)
        rejected = run.metric('srguard_sr_rejected_total{code="E062106",reason="malformed_certificate"}')
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    print(f"srguard RSS {before:.0f} -> {after:.0f} MB over 40,000 SRs")
    assert rejected >= 10_000
    assert after - before < 30, f"RSS grew {after - before:.0f} MB over 40,000 SRs"


def test_trickling_http_clients_cost_neither_threads_nor_the_endpoint(world):
    import socket

    run = SrguardRun(world, SRGUARD_HTTP_READ_TIMEOUT_S="1", SRGUARD_HTTP_MAX_CONNECTIONS="8")
    try:
        run.wait_ready()
        baseline = proc.status(run.process.pid, "Threads")
        slow = [socket.create_connection(("127.0.0.1", run.port)) for _ in range(40)]
        for sock in slow:
            sock.sendall(b"GET /metr")  # and never the rest
        time.sleep(0.5)
        during = proc.status(run.process.pid, "Threads")
        time.sleep(2)  # past the read timeout
        closed = 0  # by the server: dropped after the read timeout (EOF), or refused over the cap (503)
        for sock in slow:
            sock.settimeout(1)
            try:
                answer = sock.recv(200)
                closed += answer == b"" or answer.startswith(b"HTTP/1.1 503")
            except TimeoutError:  # still open: the server holds it
                pass
            sock.close()
        after = proc.status(run.process.pid, "Threads")
        status = run.get("/readyz")[0]
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    assert during <= baseline + 8, f"{during - baseline} threads for 40 slow clients (cap 8)"
    assert after <= baseline + 1 and closed == 40 and status == 200
