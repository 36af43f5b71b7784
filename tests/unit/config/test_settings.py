from __future__ import annotations

import pytest
from pydantic import ValidationError

from processor.config import Mode, ProcessingGuarantee, load_settings
from processor.errors import ConfigFileError, SettingError


def test_defaults_follow_the_contract(monkeypatch):
    for var in [v for v in __import__("os").environ if v.startswith("SRGUARD_")]:
        monkeypatch.delenv(var)
    settings = load_settings()
    assert settings.mode is Mode.ENFORCE
    assert settings.processing_guarantee is ProcessingGuarantee.EXACTLY_ONCE
    assert settings.topics.requests == "dcc.sr.requests"
    assert settings.topics.dlq == "dcc.sr.dlq"


def test_flags_beat_env_beat_file(tmp_path, monkeypatch):
    config = tmp_path / "srguard.toml"
    config.write_text('group_id = "from-file"\nmode = "audit"\nmetrics_port = 9000\n[kafka]\n"linger.ms" = "7"\n')
    monkeypatch.setenv("SRGUARD_GROUP_ID", "from-env")
    monkeypatch.setenv("SRGUARD_METRICS_PORT", "9001")
    settings = load_settings(config, metrics_port=9002)
    assert (settings.group_id, settings.mode, settings.metrics_port) == ("from-env", Mode.AUDIT, 9002)
    assert settings.kafka_config()["linger.ms"] == "7"


def test_kafka_pass_through_from_env(monkeypatch):
    monkeypatch.setenv("SRGUARD_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("SRGUARD_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    settings = load_settings(bootstrap_servers="b:9092")
    assert settings.kafka_config(**{"group.id": "g"}) == {
        "bootstrap.servers": "b:9092",
        "sasl.mechanism": "SCRAM-SHA-512",
        "security.protocol": "SASL_SSL",
        "group.id": "g",
    }


def test_nested_topic_override_from_env(monkeypatch):
    monkeypatch.setenv("SRGUARD_TOPICS__REJECTED", "x.rejected")
    assert load_settings().topics.rejected == "x.rejected"


def test_bad_values_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("SRGUARD_MODE", "sometimes")
    with pytest.raises(SettingError, match=r"^SRGUARD_MODE='sometimes': Input should be 'enforce' or 'audit'$"):
        load_settings()
    with pytest.raises(ConfigFileError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("mode = ")
    with pytest.raises(ConfigFileError, match="not valid TOML"):
        load_settings(bad)


def test_settings_are_frozen_and_secrets_hidden(monkeypatch):
    monkeypatch.setenv("SRGUARD_REDIS_URL", "redis://user:hunter2@h:6379/0")
    monkeypatch.setenv("SRGUARD_KAFKA_SASL_PASSWORD", "kafka-s3cret")
    settings = load_settings()
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert "kafka-s3cret" not in repr(settings) and settings.kafka_config()["sasl.password"] == "kafka-s3cret"
    with pytest.raises(ValidationError):
        settings.group_id = "other"  # type: ignore[misc]


def test_schema_registry_client_settings_from_json_env(monkeypatch):
    monkeypatch.setenv("SRGUARD_SCHEMA_REGISTRY_URL", "http://registry:8081")
    monkeypatch.setenv("SRGUARD_SCHEMA_REGISTRY", '{"basic.auth.user.info": "u:p"}')
    assert load_settings().schema_registry_config() == {"url": "http://registry:8081", "basic.auth.user.info": "u:p"}
    monkeypatch.delenv("SRGUARD_SCHEMA_REGISTRY_URL")
    assert load_settings().schema_registry_config() is None


def test_config_show_names_each_source_and_never_a_secret(tmp_path, monkeypatch):
    from processor.config import effective_settings

    for var in [v for v in __import__("os").environ if v.startswith("SRGUARD_")]:
        monkeypatch.delenv(var)
    config = tmp_path / "srguard.toml"
    config.write_text(
        'mode = "audit"\n[topics]\nrequests = "x.in"\n[kafka]\n"sasl.username" = "me"\n"client.id" = "c"\n'
    )
    monkeypatch.setenv("SRGUARD_REDIS_URL", "rediss://srguard:s3cret@redis:6380/0")
    monkeypatch.setenv("SRGUARD_KAFKA_SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("SRGUARD_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    rows = {row.name: (row.value, row.source) for row in effective_settings(config)}
    assert rows["mode"] == ("audit", str(config))
    assert rows["topics.requests"] == ("x.in", str(config)) and rows["topics.dlq"] == ("dcc.sr.dlq", "default")
    assert rows["redis_url"] == ("rediss://srguard:<redacted>@redis:6380/0", "environment SRGUARD_REDIS_URL")
    assert rows["kafka.sasl.password"] == ("<redacted>", "environment SRGUARD_KAFKA_SASL_PASSWORD")
    assert rows["kafka.security.protocol"] == ("SASL_SSL", "environment SRGUARD_KAFKA_SECURITY_PROTOCOL")
    assert rows["kafka.sasl.username"][0] == "<redacted>" and rows["kafka.client.id"] == ("c", str(config))
    assert rows["group_id"] == ("srguard", "default")
    assert not any("s3cret" in v or "hunter2" in v for v, _ in rows.values())
