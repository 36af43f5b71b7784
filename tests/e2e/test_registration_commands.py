"""`srguard registrations|parties load|get` and `srguard feed` as an operator runs them."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys

import pytest
import redis
from confluent_kafka import Producer

from processor.domain.identifiers import Fuel, mpan_check_digit
from processor.domain.model import Party, Registration
from processor.names import RedisKeys
from processor.registration.publish import publish_parties, publish_registrations
from tests.kafka_io import create_topics
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e


def srguard(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "processor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env, "COLUMNS": "200"},
    )


@pytest.fixture
def env(redis_url, kafka_bootstrap, unique):
    return {
        "SRGUARD_REDIS_URL": redis_url,
        "SRGUARD_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SRGUARD_REDIS_KEY_PREFIX": f"e{unique}",
        "SRGUARD_REGISTRATION_BUCKETS": "1024",
    }


def test_registrations_load_reports_every_bad_line_and_loses_nothing_else(tmp_path, env):
    csv_text = (
        "\n".join(
            [
                "mpxn,network_operator_id,supplier_id,effective_from,sequence",
                "1200000000020,LOND,BGAS,2019-01-01,1",
                "1200000000020,SEEB,BGAS,2021-06-01T00:00:00Z,2",
                "1200000000021,LOND,BGAS,2019-01-01,1",  # bad check digit: a warning, still loaded
                "12345,LOND,BGAS,2019-01-01,1",  # not an MPxN: rejected
                "3938424403,CADT,BGAS,not-a-date,1",  # bad time: rejected
                "3938424403,CADT,BGAS,1546300800000,1",
            ]
        )
        + "\n"
    )
    path = tmp_path / "refresh.csv.gz"
    path.write_bytes(gzip.compress(csv_text.encode()))
    loaded = srguard("registrations", "load", str(path), env=env)
    assert loaded.returncode == 1, "rejected lines must make the exit code say so"
    assert "6 lines" in loaded.stdout and "4 inserted" in loaded.stdout and "2 rejected" in loaded.stdout
    assert "line 5: rejected: not an MPAN core or MPRN" in loaded.stderr
    assert "line 6: rejected: not a time" in loaded.stderr
    assert "line 4: warning" in loaded.stderr

    shown = srguard("registrations", "get", "1200000000020", "--at", "2020-01-01", env=env)
    assert shown.returncode == 0, shown.stderr
    lond_row = next(line for line in shown.stdout.splitlines() if "LOND" in line)
    assert "◀" in lond_row and "◀" not in next(line for line in shown.stdout.splitlines() if "SEEB" in line)
    later = srguard("registrations", "get", "1200000000020", "--at", "2022-01-01", env=env)
    assert "◀" in next(line for line in later.stdout.splitlines() if "SEEB" in line)
    as_json = srguard("registrations", "get", "1200000000020", "--at", "2022-01-01", "--output", "json", env=env)
    found = json.loads(as_json.stdout)  # one object, nothing else on stdout
    assert found["in_force"]["network_operator_id"] == "SEEB" and found["mpxn"] == "1200000000020"
    assert {r["network_operator_id"] for r in found["history"]} >= {"LOND", "SEEB"}
    missing = srguard("registrations", "get", "1900033146143", env=env)
    assert missing.returncode == 1 and "no registration" in missing.stderr


def test_stray_quotes_long_lines_and_bad_bytes_cost_only_their_own_lines(tmp_path, env):
    path = tmp_path / "refresh.csv"
    path.write_bytes(
        b"mpxn,network_operator_id,supplier_id,effective_from,sequence\n"
        b'1200000000020,LOND,"BGAS,2019-01-01,1\n'  # line 2: a stray quote
        b"1200000000038,LOND,BGAS,2019-01-01,1\n"
        b"1200000000047,LOND,B\xffGAS,2019-01-01,1\n"  # line 4: not UTF-8
        b"1200000000056,LOND," + b"S" * 200_000 + b",2019-01-01,1\n"  # line 5: 200 kB
        b"3938424403,CADT,BGAS,1546300800000,1\n"
    )
    loaded = srguard("registrations", "load", str(path), env=env)
    assert loaded.returncode == 1 and "Traceback" not in loaded.stderr
    assert "2 inserted" in loaded.stdout and "3 rejected" in loaded.stdout, loaded.stdout
    assert "line 2: rejected: not a CSV row" in loaded.stderr
    assert "line 4: rejected: not UTF-8" in loaded.stderr and "line 5: rejected: line of" in loaded.stderr


@pytest.mark.parametrize("workers", ["1", "3"])
def test_a_large_load_gives_the_same_store_and_report_with_any_number_of_workers(tmp_path, env, workers, unique):
    """70,000 lines: several chunks, so parallel workers really share the file."""
    lines = ["mpxn,network_operator_id,supplier_id,effective_from,sequence"]
    for i in range(70_000):
        first12 = f"{1000000000000 + i * 7919}"[:12]
        mpan = first12 + str(mpan_check_digit(first12))
        lines.append(f"{mpan},{'LOND' if i % 2 else 'SEEB'},BGAS,{1546300800000 + i},1")
    lines[40_001] = "12345,LOND,BGAS,2019-01-01,1"  # line 40,002: rejected
    (tmp_path / "big.csv").write_text("\n".join(lines) + "\n")
    env = {**env, "SRGUARD_REDIS_KEY_PREFIX": f"w{workers}{unique}"}
    loaded = srguard("registrations", "load", str(tmp_path / "big.csv"), "--workers", workers, env=env)
    assert loaded.returncode == 1, loaded.stderr
    assert "70000 lines" in loaded.stdout and "69999 inserted" in loaded.stdout and "1 rejected" in loaded.stdout
    assert "line 40002: rejected: not an MPAN core or MPRN" in loaded.stderr
    client = redis.Redis.from_url(env["SRGUARD_REDIS_URL"])
    stored = sum(client.hlen(k) for k in client.scan_iter(f"w{workers}{unique}:reg:[0-9a-f]*"))
    assert stored == 69_999
    last = lines[-1].split(",")
    shown = srguard("registrations", "get", last[0], env=env)
    assert shown.returncode == 0 and last[1] in shown.stdout


def test_registrations_load_refuses_a_file_without_the_columns(tmp_path, env):
    path = tmp_path / "wrong.csv"
    path.write_text("meter,operator\n1,2\n")
    result = srguard("registrations", "load", str(path), env=env)
    assert result.returncode == 2 and "header lacks mpxn" in result.stderr


def test_parties_load_and_get(tmp_path, env):
    path = tmp_path / "parties.csv"
    path.write_text(
        "entity_id,party_id,role,valid_from,valid_to\n90B3D51F30020000,LOND,ED,,\n"
        "90-b3-d5-1f-30-02-00-01,SEEB,ED,2020-01-01,\nnot-an-eui,X,ED,,\n"
    )
    loaded = srguard("parties", "load", str(path), env=env)
    assert loaded.returncode == 1 and "2 entities changed" in loaded.stdout and "line 4" in loaded.stderr
    shown = srguard("parties", "get", "90-B3-D5-1F-30-02-00-01", env=env)
    assert shown.returncode == 0 and "SEEB" in shown.stdout and "2020-01-01" in shown.stdout
    held = json.loads(srguard("parties", "get", "90b3d51f30020001", "-o", "json", env=env).stdout)
    assert held["entity_id"] == "90-B3-D5-1F-30-02-00-01" and "SEEB" in {p["party_id"] for p in held["parties"]}


def test_feed_command_applies_topics_and_stops_on_sigterm(env, kafka_bootstrap, redis_url, unique):
    env = {
        **env,
        "SRGUARD_TOPICS__REGISTRATIONS": f"r-{unique}",
        "SRGUARD_TOPICS__PARTIES": f"p-{unique}",
        "SRGUARD_TOPICS__DEVICES": f"d-{unique}",
    }
    create_topics(kafka_bootstrap, f"r-{unique}", f"p-{unique}", f"d-{unique}", partitions=2)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    publish_registrations(
        producer,
        f"r-{unique}",
        [Registration(f"{1200000000000 + i}", Fuel.ELECTRICITY, "LOND", None, 1_600_000_000_000, 1) for i in range(50)],
    )
    publish_parties(producer, f"p-{unique}", [("90-B3-D5-1F-30-02-00-00", Party("LOND", "ED"))])
    process = subprocess.Popen(
        [sys.executable, "-m", "processor", "feed"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    client = redis.Redis.from_url(redis_url)
    status = RedisKeys(f"e{unique}").feed_status
    try:  # the feed publishes its status after every batch: ready once it has caught up
        wait_for(lambda: client.hget(status, "ready") == b"1", "the feed to say it is ready", timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        out, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    assert "feed ready: caught up on 6 partitions (51 records applied)" in out  # 2 x 3 topics
    assert "feed stopped" in out
    once = subprocess.run(
        [sys.executable, "-m", "processor", "feed", "--once"],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "SRGUARD_METRICS_PORT": "0"},
        timeout=60,
    )
    assert once.returncode == 0, once.stderr
    assert "feed ready: caught up on 6 partitions" in once.stdout and "feed stopped" in once.stdout


def test_devices_load_reports_bad_lines_and_get_shows_the_record_in_force(tmp_path, env):
    path = tmp_path / "inventory.csv"
    path.write_text(
        "device_id,device_type,effective_from,mpxn,export_mpxn,status,sequence\n"
        "00-DB-12-34-56-78-90-A3,ESME,2019-01-01,1200000000020,,Commissioned,1\n"
        "00db1234567890a3,esme,2022-01-01,1200000000020,2312345678900,Suspended,2\n"
        "00-DB-12-34-56-78-90-A4,GPF,2019-01-01,3938424403,,,\n"
        "00-DB-12,ESME,2019-01-01,1200000000020,,,\n"  # not an EUI-64
        "00-DB-12-34-56-78-90-A5,TOASTER,2019-01-01,,,,\n"  # not a device type
        "00-DB-12-34-56-78-90-A6,ESME,2019-01-01,12345,,,\n"  # not an MPAN or MPRN
    )
    load = srguard("devices", "load", str(path), env=env)
    assert load.returncode == 1, load.stderr
    assert "6 lines" in load.stdout and "3 rejected" in load.stdout
    assert all(f"line {n}: rejected" in load.stderr for n in (5, 6, 7)), load.stderr
    shown = srguard("devices", "get", "00db1234567890a3", "--at", "2021-01-01", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "00-DB-12-34-56-78-90-A3" in shown.stdout and "Suspended" in shown.stdout and "2312345678900" in shown.stdout
    in_force = next(line for line in shown.stdout.splitlines() if "◀" in line)
    assert "2019-01-01" in in_force and "Commissioned" in in_force
    as_json = srguard("devices", "get", "00db1234567890a3", "--at", "2021-01-01", "-o", "json", env=env)
    device = json.loads(as_json.stdout)
    assert device["in_force"]["status"] == "Commissioned" and device["in_force"]["device_type"] == "ESME"
    bad = srguard("devices", "get", "not-an-eui", env=env)
    assert bad.returncode == 2 and "not an EUI-64" in bad.stderr and "Traceback" not in bad.stderr
    absent = srguard("devices", "get", "00-DB-12-34-56-78-90-FF", env=env)
    assert absent.returncode == 1 and "not in the inventory" in absent.stderr
