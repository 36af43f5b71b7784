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
