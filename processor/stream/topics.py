"""Every topic srguard uses, with its role and the settings ``srguard topics create`` gives it."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from rich.table import Table

from processor.names import Topics


@dataclass(frozen=True)
class TopicSpec:
    name: str
    purpose: str
    compacted: bool = False
    kept: bool = False  # retention.ms=-1: history (SRs of years ago are stamped with their own time)

    @property
    def config(self) -> dict[str, str]:
        return ({"cleanup.policy": "compact"} if self.compacted else {}) | ({"retention.ms": "-1"} if self.kept else {})


def topic_layout(topics: Topics) -> list[TopicSpec]:
    return [
        TopicSpec(topics.requests, "input: Service Requests (Avro ServiceRequest or DUIS XML), key = target device id"),
        TopicSpec(topics.registrations, "input: registration changes (Avro RegistrationChange), key = MPxN", True),
        TopicSpec(topics.parties, "input: party directory (Avro PartyCredential), key = entity EUI-64", True),
        TopicSpec(topics.devices, "input: device inventory (Avro DeviceInventory), key = device EUI-64", True),
        TopicSpec(topics.accepted, "output: accepted SRs, input bytes unchanged + srguard-outcome header"),
        TopicSpec(topics.rejected, "output: rejections (Avro SrRejection)"),
        TopicSpec(topics.audit, "output: would-be rejections in audit mode (Avro SrRejection)"),
        TopicSpec(topics.dlq, "output: undecodable input, bytes unchanged + srguard-error headers"),
        TopicSpec(topics.responses, "output: a DUIS Response XML per rejection (enforce mode), key as the input"),
    ]


def create_topics(admin: AdminClient, specs: list[TopicSpec], partitions: int, replication: int) -> dict[str, str]:
    """Create what is missing; returns topic -> "created" | "exists" (saying so when its partition count differs
    from ``partitions``: srguard never changes an existing topic). Raises KafkaException or TimeoutError."""
    admin.list_topics(timeout=10)  # fails fast, with librdkafka's reason, when the broker is unreachable
    new = [NewTopic(s.name, partitions, replication, config=s.config) for s in specs]
    outcome: dict[str, str] = {}
    for name, future in admin.create_topics(new, request_timeout=30).items():
        try:
            future.result(timeout=30)
            outcome[name] = "created"
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            outcome[name] = "exists"
    existing = [name for name, result in outcome.items() if result == "exists"]
    if existing:
        metadata = admin.list_topics(timeout=10).topics
        for name in existing:
            found = len(metadata[name].partitions) if name in metadata else None
            if found is not None and found != partitions:
                outcome[name] = f"exists with {found} partitions (not changed to {partitions})"
    return outcome


def topics_table(specs: list[TopicSpec], outcome: dict[str, str]) -> Table:
    table = Table("topic", "result", "purpose")
    for spec in specs:
        table.add_row(spec.name, outcome[spec.name], spec.purpose + (" (compacted)" if spec.compacted else ""))
    return table
