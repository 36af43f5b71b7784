"""docker-compose.yml cannot run here (no Docker engine): check its wiring by reading it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from processor.config import KAFKA_ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_depends_on_names_a_service(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", []):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_srguard_env_names_are_settings(compose):
    fields = set(Settings.model_fields)
    for name in ("srguard", "topics"):
        for var in compose["services"][name]["environment"]:
            assert var.startswith("SRGUARD_"), var
            if not var.startswith(KAFKA_ENV_PREFIX):
                assert var.removeprefix("SRGUARD_").lower() in fields, f"{var} is not a setting"
        Settings.model_validate(  # the values must validate too
            {k.removeprefix("SRGUARD_").lower(): v for k, v in compose["services"][name]["environment"].items()}
        )


def test_processor_dials_an_advertised_kafka_listener_and_the_redis_service(compose):
    env = compose["services"]["srguard"]["environment"]
    advertised = compose["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert f"PLAINTEXT://{env['SRGUARD_BOOTSTRAP_SERVERS']}" in advertised.split(",")
    assert env["SRGUARD_REDIS_URL"].startswith("redis://redis:6379/")


def test_prometheus_scrapes_the_metrics_port(compose):
    env = compose["services"]["srguard"]["environment"]
    port = env["SRGUARD_METRICS_PORT"]
    assert f"{port}:{port}" in compose["services"]["srguard"]["ports"]
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = [t for job in scrape["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert f"srguard:{port}" in targets


def test_processor_waits_for_its_dependencies(compose):
    depends = compose["services"]["srguard"]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["topics"]["condition"] == "service_completed_successfully"


def test_compose_runs_the_embedded_stacks_kafka_version(compose):
    from processor.devkit.stack.apache_kafka import DEFAULT_VERSION

    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{DEFAULT_VERSION}"
