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


def publish_traffic(
    producer: Producer, topic: str, traffic: Iterable[LabelledSR], serde: Serde = PLAIN, sr_time: bool = False
) -> int:
    """SRs keyed by target device id (the contract), stamped with the time of publishing, or with ``sr_time``
    their own ``submitted_at`` as an SR topic's history holds them (history windows select by that time;
    only on a topic whose retention keeps records that old: the broker deletes by record time)."""
    return publish(
        producer,
        topic,
        (
            (
                item.sr.target_device_id.encode(),
                encode_service_request(item.sr, serde, topic),
                item.sr.submitted_at if sr_time else 0,
            )
            for item in traffic
        ),
    )
