"""One settings model for every srguard command.

Sources, strongest first: command-line flags, environment (``SRGUARD_*``), a TOML file
(``--config`` / ``SRGUARD_CONFIG``), defaults. Any librdkafka property passes through as
``SRGUARD_KAFKA_<NAME>`` (``SRGUARD_KAFKA_SASL_MECHANISM`` -> ``sasl.mechanism``) or a
``[kafka]`` table in the TOML file, so SASL/SSL work as in any Kafka application.
"""

from __future__ import annotations

import os
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from processor.domain.rule import MissingRegistration
from processor.names import DEFAULT_GROUP_ID, DEFAULT_KEY_PREFIX, RedisKeys, Topics

ENV_PREFIX = "SRGUARD_"
KAFKA_ENV_PREFIX = ENV_PREFIX + "KAFKA_"


class Mode(StrEnum):
    ENFORCE = "enforce"
    AUDIT = "audit"


class ProcessingGuarantee(StrEnum):
    EXACTLY_ONCE = "exactly_once"
    AT_LEAST_ONCE = "at_least_once"


class Settings(BaseSettings):
    """Frozen: a command builds it once and hands it to the rooms it calls."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", frozen=True, extra="forbid")

    bootstrap_servers: str = "localhost:9092"
    redis_url: SecretStr = SecretStr("redis://localhost:6379/0")
    redis_key_prefix: str = DEFAULT_KEY_PREFIX
    redis_cluster: bool = False
    registration_buckets: int = Field(1 << 19, ge=1, description="power of two; about MPxNs / 100")
    ledger_buckets: int = Field(1 << 19, ge=1, description="power of two; about devices / 100")
    group_id: str = DEFAULT_GROUP_ID
    mode: Mode = Mode.ENFORCE
    processing_guarantee: ProcessingGuarantee = ProcessingGuarantee.EXACTLY_ONCE
    on_missing_registration: MissingRegistration = MissingRegistration.REJECT
    metrics_port: int = Field(9108, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"  # the HTTP endpoint's bind address; 127.0.0.1 keeps it local
    http_max_connections: int = Field(16, ge=1)  # more at once are refused (503) without a thread each
    http_read_timeout_s: float = Field(5.0, gt=0)  # a client that sends its request slower is dropped
    # /healthz fails when the processing loop or the reference feed has not moved for this long.
    liveness_timeout_s: float = Field(60.0, gt=0)
    redis_socket_timeout_s: float = Field(10.0, gt=0)  # a hung Redis is a Redis error (pause), not a hang
    topics: Topics = Topics()
    transactional_id: str | None = None  # default: names.transactional_id(group_id)
    batch_size: int = Field(1000, ge=1, le=100_000)
    # After a batch's first SR: how long to wait for more (0: only what has already arrived). Unset: 0
    # at-least-once; 50 exactly-once, where each batch is a transaction costing the broker several
    # requests, so a busy stream wants fewer, fuller ones (Kafka Streams commits EOS every 100 ms).
    batch_timeout_ms: int | None = Field(None, ge=0)
    statistics_interval_ms: int = Field(5000, ge=0)
    dlq_max_consecutive: int = Field(1000, ge=1)
    dlq_max_ratio: float = Field(0.5, gt=0, le=1)
    dlq_window: int = Field(10_000, ge=1)
    feed_ready_timeout_s: float = Field(300.0, gt=0)
    # Past either bound the processor pauses rather than judge SRs against a stale registration view.
    feed_max_lag_seconds: float = Field(30.0, gt=0)
    feed_max_lag_records: int = Field(10_000, ge=0)
    feed_batch_size: int = Field(2000, ge=1)
    shutdown_timeout_s: float = Field(30.0, gt=0)
    schema_registry_url: str | None = None  # set: Confluent wire format through the registry
    schema_registry: dict[str, SecretStr] = Field(default_factory=dict)  # e.g. basic.auth.user.info
    trust_store: Path | None = None
    # Enforce mode without a trust anchor would accept a certificate minted by anyone with OU 03 and the
    # registered NO's EUI-64: srguard refuses to start so unless this says it is meant.
    allow_untrusted_certificates: bool = False
    certificate_cache_size: int = Field(4096, ge=1)
    certificate_cache_bytes: int = Field(16 << 20, ge=0)  # DER bytes (plus ~0.5 kB an entry) the cache may hold
    kafka: dict[str, SecretStr] = Field(default_factory=dict)  # hidden in repr: may hold sasl.password

    @property
    def redis_keys(self) -> RedisKeys:
        return RedisKeys(self.redis_key_prefix)

    def schema_registry_config(self) -> dict[str, str] | None:
        if not self.schema_registry_url:
            return None
        return {"url": self.schema_registry_url, **{k: v.get_secret_value() for k, v in self.schema_registry.items()}}

    @property
    def batch_wait_s(self) -> float:
        """batch_timeout_ms as set, else the guarantee's default, in seconds."""
        if self.batch_timeout_ms is not None:
            return self.batch_timeout_ms / 1000
        return 0.05 if self.processing_guarantee is ProcessingGuarantee.EXACTLY_ONCE else 0.0

    def kafka_config(self, **extra: object) -> dict[str, Any]:
        """librdkafka configuration: our bootstrap servers, the pass-through, then ``extra``."""
        passed = {name: value.get_secret_value() for name, value in self.kafka.items()}
        return {"bootstrap.servers": self.bootstrap_servers, **passed, **extra}


class _KafkaPassThrough(PydanticBaseSettingsSource):
    """``SRGUARD_KAFKA_SASL_MECHANISM=PLAIN`` becomes ``kafka = {"sasl.mechanism": "PLAIN"}``."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        props = {
            name[len(KAFKA_ENV_PREFIX) :].lower().replace("_", "."): value
            for name, value in os.environ.items()
            if name.startswith(KAFKA_ENV_PREFIX)
        }
        return {"kafka": props} if props else {}


class _Mapping(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class ConfigFileError(ValueError):
    pass


class SettingError(ValueError):
    """Settings that validate one by one but cannot be run with: the message names the setting and the fix."""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigFileError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"config file {path} is not valid TOML: {exc}") from exc
    # A [srguard] table is accepted so the settings can live in a shared file.
    table: dict[str, Any] = data.get("srguard", data)
    return table


def load_settings(config_file: Path | None = None, **flags: Any) -> Settings:
    """Build the settings from every source; ``flags`` set to None mean "not given"."""
    path = config_file or (Path(os.environ[f"{ENV_PREFIX}CONFIG"]) if f"{ENV_PREFIX}CONFIG" in os.environ else None)
    file_data = _read_toml(path) if path else {}

    class _Layered(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (
                init_settings,
                _KafkaPassThrough(settings_cls),
                env_settings,
                _Mapping(settings_cls, file_data),
            )

    return _Layered(**{k: v for k, v in flags.items() if v is not None})
