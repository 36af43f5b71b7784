"""The same job in Quix Streams, as a competent Quix user would write it with srguard's domain library.

A StreamingDataFrame over the SR topic: each SR goes through srguard's per-record step (decode -> device
inventory and registration looked up in Redis -> ``decide`` -> encode; the same code srguard runs, so its
outputs can be checked equal to srguard's), expands into its output records, and each is produced to the
topic it names with its headers. What differs from ``srguard run`` is the framework around the step:
Quix's per-record pipeline, its checkpoints and transactions, and Redis looked up per SR instead of per
batch. Redis must already hold the reference data (``srguard feed``); the peer does not feed it.

Run in its own virtualenv (Quix pins confluent-kafka < 2.13): reads the same ``SRGUARD_*`` settings as
``srguard run`` (topics, Redis, trust store, input format, guarantee, group id, ``SRGUARD_KAFKA_*``
consumer pass-through). ``python -m bench.peers.quix_app COMMIT_INTERVAL_S`` runs until SIGTERM.
"""

from __future__ import annotations

import sys

from quixstreams import Application, message_context
from quixstreams.models.serializers import SerializationContext, Serializer

from processor import wiring
from processor.config import ProcessingGuarantee, load_settings
from processor.kafka.records import Input, Output, Source

GUARANTEES = {ProcessingGuarantee.AT_LEAST_ONCE: "at-least-once", ProcessingGuarantee.EXACTLY_ONCE: "exactly-once"}


class OutputValue(Serializer):
    """An srguard ``Output`` record's bytes, as they are (Avro, DUIS XML, or a DLQ record)."""

    def __call__(self, value: Output, ctx: SerializationContext) -> bytes | None:
        return value.value


def main(commit_interval_s: float) -> None:
    settings = load_settings()
    reference = wiring.stores(settings)
    serde = wiring.serde_from(settings)
    judge = wiring.judge(settings, settings.topics, settings.mode, reference, serde)
    consumer_config = {
        k: v for k, v in settings.kafka_config("consumer").items() if k not in ("bootstrap.servers", "logger")
    }
    app = Application(
        broker_address=settings.bootstrap_servers,
        consumer_group=settings.group_id,
        auto_offset_reset="earliest",
        processing_guarantee=GUARANTEES[settings.processing_guarantee],  # type: ignore[arg-type]
        commit_interval=commit_interval_s,
        consumer_extra_config=consumer_config,
        auto_create_topics=False,
        use_changelog_topics=False,
        loglevel="WARNING",
    )
    requests = app.topic(settings.topics.requests, key_deserializer="bytes", value_deserializer="bytes")
    outputs = {
        t: app.topic(t, key_serializer="bytes", value_serializer=OutputValue()) for t in settings.topics.outputs()
    }

    def judged(value: bytes, key: bytes, timestamp: int, headers: list[tuple[str, bytes]] | None) -> list[Output]:
        at = message_context()
        item = Input(key, value, list(headers or []), Source(at.topic, at.partition, at.offset), timestamp)
        return judge([item]).outputs

    sdf = app.dataframe(requests)
    sdf = sdf.apply(judged, metadata=True, expand=True)
    sdf = sdf.set_headers(lambda output, _key, _timestamp, _headers: output.headers)
    sdf.to_topic(lambda output, _key, _timestamp, _headers: outputs[output.topic])
    app.run()  # stops on SIGTERM, committing what it processed


if __name__ == "__main__":
    main(float(sys.argv[1]))
