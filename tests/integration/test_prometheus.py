"""The operations pack with the real tools: promtool, and a Prometheus server scraping srguard."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from processor.devkit.stack import free_port
from tests.e2e.srguard_process import SrguardRun, make_world
from tests.unit.observability.test_queries import dashboard_expressions

pytestmark = pytest.mark.integration
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (make test installs Debian's prometheus package as root)")
    return found


def test_promtool_checks_and_unit_tests_the_alert_rules():
    promtool = _tool("promtool")
    for args in (
        ["check", "rules", str(DEPLOY / "srguard-alerts.yml")],
        ["check", "config", str(DEPLOY / "prometheus.yml")],
        ["test", "rules", str(DEPLOY / "tests" / "srguard-alerts-test.yml")],
    ):
        result = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout + result.stderr


def _query(port: int, expression: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(expression)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())["data"]["result"]


def test_prometheus_scrapes_a_running_processor(kafka_bootstrap, redis_url, unique, tmp_path):
    prometheus, promtool = _tool("prometheus"), _tool("promtool")
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path)
    traffic = world.traffic(2000, seed=19)
    run = SrguardRun(world)
    server = None
    try:
        run.wait_ready()
        world.publish(traffic)
        run.wait_consumed(len(traffic))
        scrape = run.get("/metrics")[1]
        linted = subprocess.run(
            [promtool, "check", "metrics"], input=scrape, capture_output=True, text=True, timeout=60
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr

        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            f"global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: srguard\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{run.port}']}}]\n"
        )
        server = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        consumed, throughput = [], []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (consumed and throughput):
            time.sleep(1)
            try:
                consumed = _query(port, 'srguard_sr_consumed_total{job="srguard"}')
                throughput = _query(port, "sum(rate(srguard_sr_consumed_total[30s]))")
            except OSError:
                continue
        up = _query(port, 'up{job="srguard"}')
        # Every dashboard query, as Grafana sends it with "All" chosen: Prometheus must accept each.
        answers = {
            e: _query(port, e.replace("$namespace", ".*").replace("$instance", ".*")) for e in dashboard_expressions()
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        assert run.stop() == 0
    assert consumed and float(consumed[0]["value"][1]) == len(traffic)
    assert throughput, "Prometheus returned no throughput series"
    assert up and up[0]["value"][1] == "1"
    incidents = [e for e in answers if "sum by (supplier)" in e and "srguard_incidents_total" in e]
    assert incidents and answers[incidents[0]], "the incidents-by-supplier chart would be empty"
    per_sr = [e for e in answers if "0.99" in e and "srguard_sr_processing_seconds_bucket" in e]
    assert per_sr and answers[per_sr[0]], "the per-SR latency panel would be empty"
