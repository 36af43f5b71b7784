"""srguard over SASL_SSL vs plaintext: `python -m bench.secure` (also part of `make bench`).

The same generated world (seed 1) and Avro SRs go to a plaintext embedded stack and to a secured one
(`stack up --secure`: SASL_SSL SCRAM-SHA-512, ACLs, Redis over TLS with ACL users), one stack at a time; on
each, `srguard run` (exactly-once, then at-least-once) judges the backlog from a standing start. A run's rate
is its SRs over the time from its first SR decided to its last (polled on /metrics every 50 ms), its CPU the
process's user+system seconds over the whole run. The secured run is srguard-run (embedded_feed = false,
with `srguard feed` as srguard-feed alongside) over SASL_SSL; the plaintext one the same split, unauthenticated.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from processor.devkit.stack import EmbeddedStack, free_port

SRS = int(os.environ.get("BENCH_SRS", "100000"))
GUARANTEES = ("exactly_once", "at_least_once")


def _env(base: dict[str, str], **extra: str) -> dict[str, str]:
    own = {k: v for k, v in os.environ.items() if not k.startswith(("SRGUARD_", "KAFKA_", "REDIS_"))}
    return {**own, **base, **extra}


def _srguard(env: dict[str, str], *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "processor", *args], env=env, capture_output=True, text=True, timeout=900, cwd=cwd
    )
    if done.returncode != 0:
        raise RuntimeError(f"srguard {' '.join(args)}: {done.stderr[-1500:]}")
    return done.stdout


def _consumed(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as answer:
            text = answer.read().decode()
    except OSError:
        return 0.0
    found = re.search(r"^srguard_sr_consumed_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def _wait_ready(port: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("srguard feed not ready")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed_run(env: dict[str, str], guarantee: str, group: str, trust: Path, cwd: Path) -> tuple[float, float]:
    """(SR/s, CPU s per 100k SRs) of one `srguard run` through the whole backlog."""
    port = free_port()
    run_env = _env(env, SRGUARD_METRICS_PORT=str(port), SRGUARD_GROUP_ID=group, SRGUARD_PROGRESS_INTERVAL_S="0")
    argv = [sys.executable, "-m", "processor", "run", "--trust-store", str(trust)]
    process = subprocess.Popen(
        [*argv, "--processing-guarantee", guarantee],
        env=run_env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = last = None
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            done = _consumed(port)
            now = time.monotonic()
            if done and first is None:
                first = (now, done)
            if done >= SRS:
                last = (now, done)
                break
            time.sleep(0.05)
        cpu = _cpu_seconds(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    if first is None or last is None:
        raise RuntimeError(f"srguard run ({guarantee}) did not decide {SRS:,} SRs")
    rate = (last[1] - first[1]) / (last[0] - first[0])
    return rate, cpu / SRS * 100_000


def measure(secure: bool) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStack(Path(tmp) / "stack", secure=secure) as stack:
        cwd = Path(tmp)
        if secure:
            folder = Path(stack.state.secure)
            users = ("admin", "srguard-run", "srguard-feed")
            admin, run, feed = ({"SRGUARD_CONFIG": str(folder / f"{u}.toml")} for u in users)
        else:
            admin = {"SRGUARD_BOOTSTRAP_SERVERS": stack.kafka_bootstrap, "SRGUARD_REDIS_URL": stack.redis_url}
            run, feed = {**admin, "SRGUARD_EMBEDDED_FEED": "false"}, admin
        _srguard(_env(admin), "topics", "create", cwd=cwd)
        if secure:
            acls = ["acls", "--principal", "User:srguard-run", "--for", "run", "--no-embedded-feed", "--apply"]
            _srguard(_env(admin), *acls, cwd=cwd)
            _srguard(_env(admin), "acls", "--principal", "User:srguard-feed", "--for", "feed", "--apply", cwd=cwd)
            for guarantee in GUARANTEES:  # each run reads from the start as a group of its own
                group = ["acls", "--principal", "User:srguard-run", "--for", "run", "--no-embedded-feed"]
                _srguard(_env(admin), *group, "--group", f"bench-{guarantee}", "--apply", cwd=cwd)
        _srguard(_env(admin), "simulate", "publish", "--srs", str(SRS), "--meter-points", "20000", cwd=cwd)
        feed_port = free_port()
        feeding = subprocess.Popen(
            [sys.executable, "-m", "processor", "feed"],
            env=_env(feed, SRGUARD_METRICS_PORT=str(feed_port)),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_ready(feed_port)
            trust = cwd / "srguard-simulated-oca.pem"
            return {g: _timed_run(run, g, f"bench-{g}", trust, cwd) for g in GUARANTEES}
        finally:
            feeding.send_signal(signal.SIGTERM)
            feeding.wait(60)


def run() -> dict[str, float]:
    figures = {}
    found = {"plaintext": measure(secure=False), "SASL_SSL": measure(secure=True)}
    for guarantee in GUARANTEES:
        plain, secured = found["plaintext"][guarantee], found["SASL_SSL"][guarantee]
        print(
            f"{guarantee}: plaintext {plain[0]:,.0f} SR/s ({plain[1]:.2f} CPU s/100k), SASL_SSL {secured[0]:,.0f} SR/s "
            f"({secured[1]:.2f} CPU s/100k): x{secured[0] / plain[0]:.2f} the rate; {SRS:,} Avro SRs, one process"
        )
        figures[f"secure_{guarantee}_ratio"] = secured[0] / plain[0]
    return figures


if __name__ == "__main__":
    run()
