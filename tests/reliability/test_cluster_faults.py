"""The fault campaign, short (tests/reliability/campaign.py; `make chaos` runs every fault, N rounds): on a
three-node Apache Kafka cluster (RF 3, min ISR 2), two srguard processes keep deciding a steady stream while a
node is killed or the cluster restarted node by node, and every SR is decided once (exactly-once) or in
identical copies (at-least-once), as labelled, with no output no input explains."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.campaign import run_fault
from tests.reliability.kafka_cluster import KafkaCluster
from tests.reliability.redis_process import RestartableRedis

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    found = KafkaCluster(tmp_path_factory.mktemp("cluster"))
    found.start_all()
    yield found
    found.stop_all()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    found = RestartableRedis(tmp_path_factory.mktemp("redis"), extra=["--appendonly", "no"]).start()
    yield found
    found.stop()


@pytest.mark.parametrize(
    ("fault", "guarantee"),
    [  # short: one fault per guarantee here (about a minute each); make chaos strikes with every fault in both
        ("partition leader SIGKILLed and restarted", "exactly_once"),
        ("active controller SIGKILLed", "at_least_once"),
    ],
)
def test_a_fault_on_the_cluster_loses_nothing_and_decides_nothing_twice_or_wrong(
    cluster: KafkaCluster, server: RestartableRedis, tmp_path: Path, fault: str, guarantee: str
):
    result = run_fault(cluster, server, fault, guarantee, tmp_path)
    print(result)  # the figures, for the log (-s), as make chaos prints them
    assert result.alive and result.stopped, result
    assert (result.lost, result.wrong, result.unexpected) == (0, 0, 0), result
    if guarantee == "exactly_once":
        assert result.duplicated == 0, result
