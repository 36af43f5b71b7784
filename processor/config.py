"""One settings model for every srguard command.

Sources, strongest first: command-line flags, environment (``SRGUARD_*``), a TOML file
(``--config`` / ``SRGUARD_CONFIG``), defaults. Any librdkafka property passes through as
``SRGUARD_KAFKA_<NAME>`` (``SRGUARD_KAFKA_SASL_MECHANISM`` -> ``sasl.mechanism``) or a
``[kafka]`` table in the TOML file, so SASL/SSL work as in any Kafka application.
"""

from __future__ import annotations

import difflib
import logging
import os
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from processor.domain.certificates import CACHE_BYTES, CACHE_SIZE
from processor.domain.decision import MissingRegistration
from processor.errors import ConfigFileError, SettingError
from processor.names import DEFAULT_GROUP_ID, DEFAULT_KEY_PREFIX, KAFKA_LOGGER, TOOL_ENV, Topics

ENV_PREFIX = "SRGUARD_"
KafkaClient = Literal["consumer", "producer", "admin"]
KAFKA_CLIENTS = get_args(KafkaClient)
KAFKA_ENV_PREFIX = ENV_PREFIX + "KAFKA_"


class Mode(StrEnum):
    ENFORCE = "enforce"
    AUDIT = "audit"


class InputFormat(StrEnum):
    AVRO = "avro"  # srguard's ServiceRequest records (schemas/ServiceRequest.avsc)
    DUIS = "duis"  # DUIS XML Request documents as the DCC receives them (UTF-8, signed or not)


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
    device_buckets: int = Field(1 << 16, ge=1, description="power of two; about inventory devices / 100")
    input_format: InputFormat = InputFormat.AVRO
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
    # false: `srguard run` runs no feed of its own but watches the one `srguard feed` (one writer per Redis)
    embedded_feed: bool = True
    redis_socket_timeout_s: float = Field(10.0, gt=0)  # a hung Redis is a Redis error (pause), not a hang
    topics: Topics = Topics()
    transactional_id: str | None = None  # default: names.transactional_id(group_id)
    batch_size: int = Field(1000, ge=1, le=100_000)
    # After a batch's first SR: how long to wait for more (0: only what has already arrived). Unset: 0
    # at-least-once; 10 exactly-once, where each batch is a transaction costing the broker several
    # requests: at 5,000 SR/s, 10 ms instead of 50 took p50 from 98-124 to 66-71 ms for ~0.2 more broker
    # cores; 0 made the transactions tiny and p99 worse. A busy stream fills its batches anyway.
    batch_timeout_ms: int | None = Field(None, ge=0)
    # at-least-once: how often the offsets of delivered batches are committed (a crash reads at most about
    # this much again). Exactly-once commits every batch in its transaction.
    commit_interval_ms: int = Field(1000, ge=0)
    statistics_interval_ms: int = Field(5000, ge=0)
    progress_interval_s: float = Field(30.0, ge=0)  # `run`'s progress line on stderr; 0: none
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
    # `run` refuses to start when its principal may write its input or reference topics (checked by DescribeAcls)
    strict_acls: bool = False
    certificate_cache_size: int = Field(CACHE_SIZE, ge=1)
    certificate_cache_bytes: int = Field(CACHE_BYTES, ge=0)  # DER bytes (plus ~0.5 kB an entry) the cache may hold
    kafka: dict[str, SecretStr] = Field(default_factory=dict)  # hidden in repr: may hold sasl.password

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: SecretStr) -> SecretStr:
        scheme = url.get_secret_value().partition("://")[0]
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"a Redis URL starts with redis://, rediss:// or unix://, not {scheme}://")
        return url

    def schema_registry_config(self) -> dict[str, str] | None:
        if not self.schema_registry_url:
            return None
        return {"url": self.schema_registry_url, **{k: v.get_secret_value() for k, v in self.schema_registry.items()}}

    @property
    def batch_wait_s(self) -> float:
        """batch_timeout_ms as set, else the guarantee's default, in seconds."""
        if self.batch_timeout_ms is not None:
            return self.batch_timeout_ms / 1000
        return 0.01 if self.processing_guarantee is ProcessingGuarantee.EXACTLY_ONCE else 0.0

    def kafka_config(self, client: KafkaClient | None = None, **extra: object) -> dict[str, Any]:
        """librdkafka configuration for one kind of client: our bootstrap servers, the pass-through
        (``kafka.*`` for every client, then ``kafka.<client>.*`` for this one), then ``extra``."""
        shared, own = {}, {}
        for name, value in self.kafka.items():
            kind, _, rest = name.partition(".")
            if kind in KAFKA_CLIENTS:
                if kind == client:
                    own[rest] = value.get_secret_value()
            else:
                shared[name] = value.get_secret_value()
        routed = {"logger": logging.getLogger(KAFKA_LOGGER)} if client else {}  # librdkafka's logs through ours
        return {"bootstrap.servers": self.bootstrap_servers, **routed, **shared, **own, **extra}


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


def _suggestion(name: str, known: list[str]) -> str:
    near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {near[0]}?)" if near else ""


def _env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def _check_names(path: Path | None, file_data: dict[str, Any]) -> None:
    """Unknown keys are errors, not silently ignored: a misspelt setting would run with its default."""
    fields = list(Settings.model_fields)
    for key in file_data:
        if key not in Settings.model_fields:
            raise ConfigFileError(f"config file {path}: unknown setting {key!r}{_suggestion(key, fields)}")
    known_env = [_env_name(f) for f in fields] + sorted(TOOL_ENV)
    nested = tuple(_env_name(f) + "__" for f, info in Settings.model_fields.items() if info.annotation is Topics)
    for name in os.environ:
        if not name.startswith(ENV_PREFIX) or name in known_env or name.startswith(KAFKA_ENV_PREFIX):
            continue
        if name.startswith(nested):
            topic = name.split("__", 1)[1].lower()
            if topic not in Topics.model_fields:
                raise ConfigFileError(
                    f"environment: unknown topic {name}{_suggestion(topic, list(Topics.model_fields))}"
                )
            continue
        if name.startswith(_env_name("schema_registry") + "__"):
            continue
        raise ConfigFileError(f"environment: unknown setting {name}{_suggestion(name, known_env)}")


def _where(field: str, flags: dict[str, Any], path: Path | None, file_data: dict[str, Any]) -> str:
    """The source a value came from, strongest first, as the user would name it."""
    if flags.get(field) is not None:
        return f"--{field.replace('_', '-')}"
    if _env_name(field) in os.environ:
        secret = "SecretStr" in str(Settings.model_fields[field].annotation)  # never echo a password
        return _env_name(field) if secret else f"{_env_name(field)}={os.environ[_env_name(field)]!r}"
    if field in file_data:
        return f"{field} in {path}"
    return field


def load_settings(config_file: Path | None = None, **flags: Any) -> Settings:
    """Build the settings from every source; ``flags`` set to None mean "not given".

    Raises ConfigFileError (unknown names, unreadable files) or SettingError (a value that does not
    validate), each one line naming the variable, flag or file it came from."""
    path = config_file or (Path(os.environ[f"{ENV_PREFIX}CONFIG"]) if f"{ENV_PREFIX}CONFIG" in os.environ else None)
    file_data = _read_toml(path) if path else {}
    _check_names(path, file_data)

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

    try:
        return _Layered(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "settings"
            nested = ".".join(str(part) for part in error["loc"][1:])
            where = _where(field, flags, path, file_data) + (f" ({nested})" if nested else "")
            problems.append(f"{where}: {error['msg']}")
        raise SettingError("; ".join(problems)) from None


class Effective(NamedTuple):
    """One setting as ``srguard config show`` prints it: its value (secrets redacted) and where it came from."""

    name: str
    value: str
    source: str


REDACTED = "<redacted>"
_SECRET_WORDS = ("password", "secret", "jaas", "token", "key.pem", "private", "credentials")


def _shown(value: Any, secret: bool) -> str:
    if isinstance(value, SecretStr):
        raw = value.get_secret_value()
        if "://" in raw:  # a URL: only its password is secret
            scheme, _, rest = raw.partition("://")
            userinfo, at, host = rest.rpartition("@")
            if at and ":" in userinfo:
                return f"{scheme}://{userinfo.partition(':')[0]}:{REDACTED}@{host}"
            return raw
        return REDACTED if secret and raw else raw
    if isinstance(value, StrEnum):
        return value.value
    return "(not set)" if value is None else str(value)


def effective_settings(config_file: Path | None = None) -> list[Effective]:
    """Every setting's effective value and its source (flag sources do not apply: this reads the process's
    environment and the config file). Raises what ``load_settings`` raises."""
    settings = load_settings(config_file)
    path = config_file or (Path(os.environ[f"{ENV_PREFIX}CONFIG"]) if f"{ENV_PREFIX}CONFIG" in os.environ else None)
    file_data = _read_toml(path) if path else {}

    def source(env: str, in_file: bool) -> str:
        if env in os.environ:
            return f"environment {env}"
        return f"{path}" if in_file else "default"

    rows = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, Topics):
            file_topics = file_data.get(name, {})
            for topic, topic_name in value.model_dump().items():
                env = f"{_env_name(name)}__{topic.upper()}"
                rows.append(Effective(f"{name}.{topic}", topic_name, source(env, topic in file_topics)))
        elif isinstance(value, dict):  # kafka, schema_registry: each property, secrets redacted
            file_props = file_data.get(name, {})
            for key, secret in sorted(value.items()):
                prefix = KAFKA_ENV_PREFIX if name == "kafka" else f"{_env_name(name)}__"
                env = prefix + (key.upper().replace(".", "_") if name == "kafka" else key)
                hidden = any(word in key for word in _SECRET_WORDS) or key.endswith((".user.info", "username"))
                rows.append(Effective(f"{name}.{key}", _shown(secret, hidden), source(env, key in file_props)))
        else:
            rows.append(Effective(name, _shown(value, True), source(_env_name(name), name in file_data)))
    return rows
