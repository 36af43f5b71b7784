"""The Kafka edge of a processing step: messages in as Input records, Output records produced."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from processor.errors import SettingError
from processor.kafka.records import Headers, Input, Output, Source

log = logging.getLogger(__name__)
# librdkafka's default message.max.bytes: the largest record a producer sends unless configured.
DEFAULT_MAX_RECORD_BYTES = 1_000_000
DeliveryCallback = Callable[[KafkaError | None, Message], None]
# Client settings an AdminClient accepts from a processor's config: connection and security only.
_ADMIN_KEYS = {"bootstrap.servers", "client.id", "socket.timeout.ms", "logger"}
_ADMIN_PREFIXES = ("security.", "ssl.", "sasl.")
# How long one idle wait for the first SR of a batch lasts: the cadence of stop and readiness checks.
IDLE_WAIT_S = 0.1


def take_batch(consumer: Consumer, size: int, wait_s: float) -> list[Message]:
    """Wait (up to IDLE_WAIT_S) for a first message, then take what has arrived behind it, waiting at
    most ``wait_s`` for the batch to fill.

    consume(n, t) waits until n messages or t have passed: asked for a full batch at once it would
    hold a lone SR for the whole timeout. Taken this way a batch is as large as the backlog, so a
    quiet stream sees per-SR latency and a busy one sees full batches.
    """
    first = consumer.consume(1, IDLE_WAIT_S)
    if not first or size == 1:
        return first
    return first + consumer.consume(size - 1, wait_s)


def to_inputs(messages: Sequence[Message]) -> list[Input]:
    """The batch's records (events such as partition EOF are skipped), in one pass: this runs per record."""
    # No per-record None checks here (the hot path): a consumed record always has its coordinates,
    # and srguard's consumers never ask for headers as a dict.
    return [
        Input(m.key(), m.value(), m.headers() or [], Source(m.topic(), m.partition(), m.offset()), m.timestamp()[1])  # type: ignore[arg-type]
        for m in messages
        if m.error() is None
    ]


def produce(
    producer: Producer,
    topic: str,
    value: bytes | None,
    key: bytes | None = None,
    headers: Headers | None = None,
    on_delivery: DeliveryCallback | None = None,
    timestamp: int = 0,
) -> None:
    """Produce one record, waiting for room in librdkafka's queue when it is full (timestamp 0: now)."""
    while True:
        try:
            producer.produce(topic, value, key, headers=headers, on_delivery=on_delivery, timestamp=timestamp)  # type: ignore[arg-type]
            return
        except BufferError:
            producer.poll(0.05)


def produce_outputs(producer: Producer, outputs: Sequence[Output], on_delivery: DeliveryCallback | None = None) -> None:
    for out in outputs:
        produce(producer, out.topic, out.value, out.key, out.headers, on_delivery, out.timestamp)


def record_limit(kafka_config: dict[str, Any], topics: Sequence[str], timeout_s: float = 5.0) -> int:
    """The largest record srguard may write to ``topics``: the producer's ``message.max.bytes`` (librdkafka
    counts key, value and headers against it), lowered to any topic's ``max.message.bytes`` the broker
    reports. Where the broker will not say (ACLs, timeout), the producer's limit stands."""
    raw = kafka_config.get("message.max.bytes", DEFAULT_MAX_RECORD_BYTES)
    try:
        limit = int(raw)
    except ValueError:
        raise SettingError(
            f"kafka.message.max.bytes (SRGUARD_KAFKA_MESSAGE_MAX_BYTES) {raw!r} is not a number"
        ) from None
    try:
        for config in topic_configs(kafka_config, topics, timeout_s).values():
            if config.get("max.message.bytes"):
                limit = min(limit, int(config["max.message.bytes"]))
    except Exception as exc:  # not knowing is fine: the producer's limit still holds
        log.warning(
            "could not read the output topics' max.message.bytes (%s): using message.max.bytes", error_text(exc)
        )
    return limit


def topic_configs(
    kafka_config: dict[str, Any], topics: Sequence[str], timeout_s: float = 10.0
) -> dict[str, dict[str, str]]:
    """Each topic's configuration as the broker reports it (name -> value). Raises the admin client's errors."""
    admin = AdminClient({k: v for k, v in kafka_config.items() if k in _ADMIN_KEYS or k.startswith(_ADMIN_PREFIXES)})
    resources = [ConfigResource(ConfigResource.Type.TOPIC, topic) for topic in dict.fromkeys(topics)]
    return {
        str(resource.name): {name: str(entry.value) for name, entry in future.result(timeout_s).items() if entry.value}
        for resource, future in admin.describe_configs(resources, request_timeout=timeout_s).items()
    }


def log_failed_commit(error: KafkaError | None, _partitions: list[TopicPartition]) -> None:
    """A consumer's ``on_commit``: a failed commit is a warning (its records may be read again), never fatal."""
    if error is not None and error.code() != KafkaError._NO_OFFSET:
        log.warning("could not commit offsets (%s): at worst their records are read again", error.str())


# The broker's "your principal may not": what the grant would be, in ACL words (srguard acls prints them)
DENIED = {
    KafkaError.TOPIC_AUTHORIZATION_FAILED: "Read/Write/Describe on a topic it uses",
    KafkaError.GROUP_AUTHORIZATION_FAILED: "Read on its consumer group",
    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED: "Write on its transactional id",
    KafkaError.CLUSTER_AUTHORIZATION_FAILED: "an operation on the cluster",
}


DENIED_PREFIX = "permission denied by the broker"


class Denials:
    """What the broker refuses a consumer outside any group's protocol (the reference feed): one line when a
    resource is first refused; cleared when its records arrive again, or after ``quiet_s`` without a refusal
    (the broker repeats one about every 20 s while it lasts)."""

    def __init__(self, what: str, quiet_s: float = 60.0) -> None:
        self.what = what  # the command whose grants list the missing ACL, e.g. "feed"
        self.quiet_s = quiet_s
        self._refused: dict[str, tuple[str, float]] = {}  # resource -> (the line, time.monotonic() last refused)

    def refused(self, resource: str, error: KafkaError) -> None:
        known = self._refused.get(resource)
        if known is None:
            lacks = DENIED.get(error.code(), "an ACL")
            text = (
                f"{DENIED_PREFIX} ({error.name()}: {error.str()}) on {resource}: this principal lacks {lacks}; "
                f"'srguard acls --principal User:<name> --for {self.what}' (run: --for run) lists what it needs"
            )
            log.error("%s held: %s", self.what, text)
        self._refused[resource] = (known[0] if known else text, time.monotonic())

    def readable(self, resource: str) -> None:
        if self._refused.pop(resource, None) is not None:
            log.info("%s: %s is readable again", self.what, resource)

    def held(self) -> str | None:
        """Why reading is held (every resource still refused), or None."""
        now = time.monotonic()
        for resource, (_, at) in list(self._refused.items()):
            if now - at > self.quiet_s:
                self.readable(resource)
        return "; ".join(text for text, _ in self._refused.values()) or None


def denied_text(exc: BaseException) -> str | None:
    """'permission denied: ...' for an authorization error of the broker's, None for any other error."""
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    missing = DENIED.get(error.code()) if isinstance(error, KafkaError) else None
    if missing is None or not isinstance(error, KafkaError):
        return None
    return (
        f"{DENIED_PREFIX} ({error.name()}: {error.str()}): this principal lacks {missing}; "
        "'srguard acls --principal User:<name> --for <command>' lists what each command needs"
    )


def error_text(exc: BaseException) -> str:
    """An error as one line: librdkafka's own text for Kafka errors, not the KafkaError repr."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return str(exc.args[0].str())
    return str(exc) or type(exc).__name__


def coordinates(msg: Message) -> tuple[str, int, int]:
    """A consumed record's topic, partition and offset: never None for a record a consumer returned
    (confluent-kafka's types allow None for messages being produced)."""
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    assert topic is not None and partition is not None and offset is not None
    return topic, partition, offset
