"""The broker stops answering mid-stream and comes back: srguard reconnects and resumes by itself.

tansu's memory storage loses everything on a restart, so the outage is a frozen broker (SIGSTOP for
several seconds, then SIGCONT): connections stall and time out exactly as with an unreachable broker,
but the data survives. A broker restart with data loss is not tested here.
"""

from __future__ import annotations

import os
import signal
import time
from collections import defaultdict

import pytest

from processor.avro import codec
from processor.devkit.capabilities import BrokerCapabilities
from tests.e2e.srguard_process import SrguardRun, make_world

pytestmark = pytest.mark.integration


def test_frozen_broker_then_resume_without_operator_action(
    kafka_bootstrap, redis_url, unique, tmp_path, embedded_broker_pid, broker_capabilities: BrokerCapabilities
):
    verdict = broker_capabilities.read_committed_hides_aborted  # probe before freezing anything
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path)
    traffic = world.traffic(5000, seed=17)
    run = SrguardRun(world, SRGUARD_BATCH_SIZE="50")
    run.wait_ready()
    world.publish(traffic)
    run.wait_consumed(300)
    os.kill(embedded_broker_pid, signal.SIGSTOP)
    try:
        time.sleep(8)
        assert run.process.poll() is None, "srguard died while the broker was frozen"
    finally:
        os.kill(embedded_broker_pid, signal.SIGCONT)
    expected_rejected = sum(1 for i in traffic if i.rejected)
    accepted = world.outputs(world.topics.accepted, len(traffic) - expected_rejected, timeout=120)
    rejected = world.outputs(world.topics.rejected, expected_rejected, timeout=30)
    deadline = time.monotonic() + 30
    while run.get("/readyz")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    ready_again = run.get("/readyz")[0] == 200
    assert run.stop() == 0, run.log.read_text()[-2000:]
    assert ready_again
    copies = defaultdict(list)
    for msg in accepted:
        copies[codec("ServiceRequest").decode(msg.value())["request_id"]].append(("accepted", msg.value()))
    for msg in rejected:
        record = codec("SrRejection").decode(msg.value())
        copies[record["request_id"]].append(("rejected", record["original"]))
    assert set(copies) == {i.sr.request_id for i in traffic}, "SRs lost across the outage"
    duplicates = {rid: found for rid, found in copies.items() if len(found) > 1}
    if verdict.supported:
        assert not duplicates
    else:  # an aborted batch is visible on this broker: its copies must be exact
        assert all(len(set(found)) == 1 for found in duplicates.values())
