"""docker-compose.secure.yml's kit, run for real without a Docker engine: the broker config and start script
`srguard stack kit` writes (formatting the KRaft storage with the SCRAM users, as the kafka container runs it,
the broker's jars behind a stand-in for the image's /opt/kafka/bin), Redis started from the kit's config, and
srguard's principals from the kit's own config files: topics and ACLs as admin, the feed as srguard-feed, `run`
as srguard-run by its client certificate. Only the host names and the mount differ from compose's kit."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis

from processor.config import load_settings
from processor.devkit.stack import (
    _kafka_answers,
    _redis_answers,
    _wait_until,
    apache_kafka,
    free_port,
    redis_server_binary,
)
from processor.devkit.stack.kit import write_kit
from processor.devkit.stack.secure import Place, Ports
from tests.e2e.test_secured_stack import committed_values, judge_with_feed, prepare, srguard

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _non_loopback_address() -> str | None:
    """This machine's address on its network (the route out), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only the route is looked up
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def _image_like_kafka_home(home: Path) -> Path:
    """bin/kafka-storage.sh and bin/kafka-server-start.sh as the apache/kafka image has them, over the jars."""
    java, libs = apache_kafka.java_binary(), apache_kafka.resolve_jars()
    jvm = " ".join([str(java), *apache_kafka.HEAP, *apache_kafka.JVM_OPTIONS, "-cp", f"'{libs}/*'"])
    (home / "bin").mkdir(parents=True)
    for script, main in (("kafka-storage.sh", "kafka.tools.StorageTool"), ("kafka-server-start.sh", "kafka.Kafka")):
        path = home / "bin" / script
        path.write_text(f'#!/bin/sh\nexec {jvm} {main} "$@"\n')
        path.chmod(0o755)
    return home


def test_the_compose_kit_runs_a_secured_stack_where_least_privilege_principals_decide_every_sr(tmp_path):
    ports = Ports(*(free_port() for _ in range(5)))
    home = _image_like_kafka_home(tmp_path / "opt-kafka")
    place = Place(bind="0.0.0.0")  # as in a container: reached over a network, not loopback alone
    kit = write_kit(tmp_path / "secure", place, ports, str(home), str(tmp_path / "kafka-data"))
    assert {p.name for p in kit.files["kafka"]} == {"broker-keystore.pem", "kafka.properties", "kafka-start.sh"}
    started = []
    try:
        with (tmp_path / "kafka.log").open("wb") as out:
            kafka = subprocess.Popen(["/bin/sh", str(kit.folder / "kafka-start.sh")], stdout=out, stderr=out)
        started.append(kafka)
        with (tmp_path / "redis.log").open("wb") as out:
            server = [str(redis_server_binary()), str(kit.folder / "redis.conf"), "--dir", str(tmp_path)]
            started.append(subprocess.Popen(server, stdout=out, stderr=out))
        admin = load_settings(kit.folder / "admin.toml")
        _wait_until(
            lambda: _redis_answers(admin.redis_url.get_secret_value()), "redis", started[1], tmp_path / "redis.log"
        )
        answers = lambda: _kafka_answers(admin.bootstrap_servers, admin.kafka_config("admin"))  # noqa: E731
        _wait_until(answers, "kafka", kafka, tmp_path / "kafka.log", 120)

        stack = SimpleNamespace(state=SimpleNamespace(secure=str(kit.folder)))  # the helpers read the configs
        prepare(stack, tmp_path)  # type: ignore[arg-type]
        world = ["--meter-points", "300", "--srs", "1500", "--seed", "4"]
        said = srguard(stack, "admin", "simulate", "publish", *world, cwd=tmp_path)  # type: ignore[arg-type]
        planted = int(re.search(r"([\d,]+) of them planted", said).group(1).replace(",", ""))  # type: ignore[union-attr]
        judge_with_feed(stack, tmp_path, 1500, {}, lambda *_: None, listener="-mtls")  # type: ignore[arg-type]
        rejected = committed_values(stack, "dcc.sr.rejected")  # type: ignore[arg-type]
        assert len(committed_values(stack, "dcc.sr.accepted")) + len(rejected) == 1500  # type: ignore[arg-type]
        assert len(rejected) >= planted > 0
        # Redis: TLS only, and the default user off (Kafka's SCRAM users, formatted in by the start script, let
        # admin, srguard-feed and srguard-run in above)
        host = f"127.0.0.1:{ports.redis_tls}"
        with (
            pytest.raises(redis.exceptions.AuthenticationError),
            redis.Redis.from_url(f"rediss://{host}/0?ssl_ca_certs={kit.folder / 'ca.pem'}") as anonymous,
        ):
            anonymous.ping()
        # From another address than loopback, as the compose network's containers come (Redis's protected mode
        # would refuse them were the default user left without a password; it is off instead)
        outside = _non_loopback_address()
        if outside:
            password = json.loads((kit.folder / "passwords.json").read_text())["admin"]
            url = f"rediss://admin:{password}@{outside}:{ports.redis_tls}/0?ssl_cert_reqs=none"
            with redis.Redis.from_url(url) as admin_client:
                assert admin_client.ping()
    finally:
        for process in started:
            process.kill()
            process.wait(30)
