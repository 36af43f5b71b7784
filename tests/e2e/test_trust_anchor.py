"""`srguard run` in enforce mode without a trust store refuses to start with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_enforce_without_a_trust_store_refuses_to_start_in_one_line(kafka_bootstrap, redis_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRGUARD_")}
    env |= {"SRGUARD_BOOTSTRAP_SERVERS": kafka_bootstrap, "SRGUARD_REDIS_URL": redis_url, "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "processor", "run", "--mode", "enforce", "--metrics-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "enforce mode needs a trust store" in lines[0], result.stderr
    assert "--allow-untrusted-certificates" in lines[0] and "Traceback" not in result.stderr


def test_a_message_max_bytes_that_is_not_a_number_is_one_line(kafka_bootstrap, redis_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRGUARD_")}
    env |= {
        "SRGUARD_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SRGUARD_REDIS_URL": redis_url,
        "SRGUARD_ALLOW_UNTRUSTED_CERTIFICATES": "true",
        "SRGUARD_KAFKA_MESSAGE_MAX_BYTES": "lots",
    }
    result = subprocess.run(
        [sys.executable, "-m", "processor", "run", "--metrics-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "error: kafka.message.max.bytes (SRGUARD_KAFKA_MESSAGE_MAX_BYTES) 'lots' is not a number" in result.stderr


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"", "holds no PEM certificate"), (b"not a certificate\n", "holds no PEM certificate"), (None, "cannot read")],
    ids=["empty file", "not PEM", "missing file"],
)
def test_a_trust_store_that_holds_no_certificate_is_one_line(kafka_bootstrap, redis_url, tmp_path, content, says):
    store = tmp_path / "oca.pem"
    if content is not None:
        store.write_bytes(content)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRGUARD_")}
    env |= {"SRGUARD_BOOTSTRAP_SERVERS": kafka_bootstrap, "SRGUARD_REDIS_URL": redis_url, "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "processor", "run", "--trust-store", str(store), "--metrics-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(lines) == 1 and says in lines[0] and str(store) in lines[0], result.stderr
