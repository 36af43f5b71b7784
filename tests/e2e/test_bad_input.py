"""Every user error is one line naming what caused it, with a documented exit code: never a traceback.

One row per case an integration engineer or SRE met (issue 22). ``{kafka}``, ``{redis}`` and ``{prefix}``
in a row are filled in with the test's own broker, Redis and a fresh topic prefix."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
MPAN = "1100000000011"

LEAF = str(Path(__file__).resolve().parents[1] / "data" / "zaz1" / "Z1-loadController-ds.pem")
MAX_SECONDS = 15  # every mistake is told within this, the unreachable broker included
CASES = [
    # (id, arguments, extra environment, exit code, what the error line must say)
    ("misspelt env setting", ["topics", "create"], {"SRGUARD_MODEE": "audit"}, 2, "did you mean SRGUARD_MODE?"),
    ("bad env value", ["topics", "create"], {"SRGUARD_MODE": "foo"}, 2, "SRGUARD_MODE='foo': Input should be"),
    ("misspelt topic", ["topics", "create"], {"SRGUARD_TOPICS__REQUEST": "x"}, 2, "did you mean requests?"),
    (
        "http Redis URL, password not echoed",
        ["registrations", "get", MPAN],
        {"SRGUARD_REDIS_URL": "http://user:s3cret@host/0"},
        2,
        "SRGUARD_REDIS_URL: Value error, a Redis URL starts with redis://",
    ),
    ("not an MPxN", ["registrations", "get", "abc"], {}, 2, "not an MPAN core or MPRN: 'abc'"),
    (
        "unreachable Redis, password not echoed",
        ["registrations", "get", MPAN],
        {"SRGUARD_REDIS_URL": "redis://u:s3cret@127.0.0.1:1/0"},
        2,
        "cannot reach Redis at 127.0.0.1:1 (--redis-url, SRGUARD_REDIS_URL)",
    ),
    ("bad --at", ["registrations", "get", MPAN, "--at", "tomorrow"], {}, 2, "not a time: 'tomorrow'"),
    (
        "impossible --since, formats named",
        ["export", "x.avro", "--since", "2019-13-01"],
        {},
        2,
        "not a time: '2019-13-01' (an ISO 8601 date or date-time, e.g. 2019-01-31",
    ),
    ("bad ledger --at", ["ledger", "report", "--at", "nonsense"], {}, 2, "not a time: 'nonsense'"),
    ("not an EUI-64", ["parties", "get", "nope"], {}, 2, "nope"),
    ("unknown record type", ["export", "x.avro", "--schema", "Foo"], {}, 2, "--schema must be"),
    ("bad log level", ["--log-level", "loud", "version"], {}, 2, "loud"),
    (
        "unreachable broker",
        ["topics", "create", "--bootstrap-servers", "127.0.0.1:1"],
        {},
        2,
        "could not create topics on 127.0.0.1:1: Failed to get metadata",
    ),
    (
        "run before topics create",
        ["run", "--mode", "audit", "--metrics-port", "0"],
        {"SRGUARD_TOPICS__REGISTRATIONS": "{prefix}.registrations", "SRGUARD_TOPICS__PARTIES": "{prefix}.parties"},
        2,
        "create srguard's topics with 'srguard topics create'",
    ),
    (
        "run on a misspelt input topic",
        ["run", "--mode", "audit", "--metrics-port", "0"],
        {"SRGUARD_TOPICS__REQUESTS": "{prefix}.requets"},
        2,
        "{prefix}.requets",
    ),
    (
        "run with an unreachable broker",
        ["run", "--mode", "audit", "--metrics-port", "0"],
        {"SRGUARD_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
        2,
        "cannot reach Kafka at 127.0.0.1:1 (--bootstrap-servers, SRGUARD_BOOTSTRAP_SERVERS) within 5 s",
    ),
    (
        "an Organisation Certificate as the trust store",
        ["run", "--trust-store", LEAF, "--metrics-port", "0"],
        {},
        2,
        "certificate 1 (2.5.4.45=#0090b3d51f30010008,OU=08): it is no CA",
    ),
    (
        "simulate publish before topics create",
        ["simulate", "publish", "--srs", "10", "--trust-store-out", "{tmp}/oca.pem"],
        {"SRGUARD_TOPICS__REQUESTS": "{prefix}.requests"},
        2,
        "do not exist: create them with 'srguard topics create'",
    ),
    (
        "metrics port in use",
        ["run", "--mode", "audit", "--metrics-port", "{busy_port}"],
        {},
        2,
        "metrics_port {busy_port} on 0.0.0.0 cannot be served: Address already in use",
    ),
]


@pytest.fixture(scope="module")
def busy_port():
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize(("arguments", "env", "code", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(
    tmp_path, kafka_bootstrap, redis_url, unique, busy_port, arguments, env, code, says
):
    fill = {
        "kafka": kafka_bootstrap,
        "redis": redis_url,
        "prefix": f"bad{unique}",
        "busy_port": busy_port,
        "tmp": str(tmp_path),
    }
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SRGUARD_")}
    environment |= {"SRGUARD_BOOTSTRAP_SERVERS": kafka_bootstrap, "SRGUARD_REDIS_URL": redis_url, "COLUMNS": "80"}
    environment |= {k: v.format(**fill) for k, v in env.items()}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "processor", *(a.format(**fill) for a in arguments)],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        env=environment,
    )
    took = time.monotonic() - started
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert took < MAX_SECONDS, f"{took:.1f} s to say what is wrong (an unreachable broker took 40 s once)"
    assert result.returncode == code, output[-3000:]
    assert says.format(**fill) in output, output[-3000:]
    assert "s3cret" not in output, "a password in a URL must never be echoed"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if errors:
        assert len(errors) == 1 and says.format(**fill) in errors[0], "the error must be one line, not wrapped"
