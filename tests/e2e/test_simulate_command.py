"""`srguard simulate publish` puts a generated world and its traffic into a running stack, and `srguard
run` with the trust store it wrote judges every SR as planted (issue 22)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from confluent_kafka.admin import AdminClient

from processor.names import Topics
from processor.stream.topics import create_topics, topic_layout
from tests.e2e.srguard_process import PARTITIONS, SrguardRun
from tests.kafka_io import read_all

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("duis", [False, True], ids=["avro", "duis"])
def test_a_simulated_world_published_into_a_stack_is_judged_as_planted(
    kafka_bootstrap, redis_url, unique, tmp_path, duis
):
    topics = Topics(**{name: f"{value}.sim{unique}" for name, value in Topics().model_dump().items()})
    create_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), topic_layout(topics), PARTITIONS, 1)

    class SimulatedStack:  # what SrguardRun needs of a world
        kafka, redis, workdir = kafka_bootstrap, redis_url, tmp_path

        @staticmethod
        def env(**extra: str) -> dict[str, str]:
            import os

            env = {
                "SRGUARD_BOOTSTRAP_SERVERS": kafka_bootstrap,
                "SRGUARD_REDIS_URL": redis_url,
                "SRGUARD_REDIS_KEY_PREFIX": f"sim{unique}",
                "SRGUARD_REGISTRATION_BUCKETS": "64",
                "SRGUARD_DEVICE_BUCKETS": "64",
                "SRGUARD_GROUP_ID": f"sim{unique}",
                "SRGUARD_BATCH_TIMEOUT_MS": "50",
                "SRGUARD_INPUT_FORMAT": "duis" if duis else "avro",
            }
            env |= {f"SRGUARD_TOPICS__{name.upper()}": value for name, value in topics.model_dump().items()}
            return {**os.environ, **env, **extra}

    oca = tmp_path / "oca.pem"
    published = subprocess.run(
        [sys.executable, "-m", "processor", "simulate", "publish", "--meter-points", "300", "--srs", "1500"]
        + ["--seed", "4", "--trust-store-out", str(oca)]
        + (["--duis"] if duis else []),
        env=SimulatedStack.env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert published.returncode == 0, published.stdout + published.stderr
    said = re.search(r"published 1,500 SRs to \S+ \((Avro|DUIS XML)\), (\d+) of them planted", published.stdout)
    assert said and said.group(1) == ("DUIS XML" if duis else "Avro"), published.stdout
    planted = int(said.group(2))
    assert planted > 0 and ("device inventory records" in published.stdout) == duis
    assert f"srguard run --trust-store {oca}" in published.stdout and oca.read_bytes().startswith(b"-----BEGIN")
    run = SrguardRun(SimulatedStack(), "--trust-store", str(oca))  # type: ignore[arg-type]
    try:
        run.wait_ready()
        run.wait_consumed(1500)
        rejected = read_all(kafka_bootstrap, topics.rejected, planted, partitions=PARTITIONS)
        consumed = run.metric("srguard_sr_consumed_total")
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    assert consumed == 1500 and len(rejected) == planted
