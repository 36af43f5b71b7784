"""Publish a generated world to Kafka: reference data and SR traffic (demo, e2e tests, benchmarks)."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import Producer

from processor.avro import PLAIN, Serde
from processor.devkit.simulate.population import Population
from processor.devkit.simulate.traffic import LabelledSR
from processor.names import Topics
from processor.registration.publish import publish, publish_parties, publish_registrations
from processor.stream.serde import encode_service_request


def publish_reference_data(
    producer: Producer, topics: Topics, population: Population, serde: Serde = PLAIN
) -> tuple[int, int]:
    """(registration changes, party credentials) published."""
    credentials = [
        (o.entity_id, p) for o in population.organisations() for p in population.directory().owner_history(o.entity_id)
    ]
    return (
        publish_registrations(producer, topics.registrations, population.registrations(), serde),
        publish_parties(producer, topics.parties, credentials, serde),
    )


def publish_traffic(producer: Producer, topic: str, traffic: Iterable[LabelledSR], serde: Serde = PLAIN) -> int:
    """SRs keyed by target device id (the contract), each stamped with its SR's own time (``submitted_at``),
    as the DCC's topic would hold them: history windows select by that time."""
    return publish(
        producer,
        topic,
        (
            (item.sr.target_device_id.encode(), encode_service_request(item.sr, serde, topic), item.sr.submitted_at)
            for item in traffic
        ),
    )
