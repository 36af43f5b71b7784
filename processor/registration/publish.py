"""Publishing reference data to its topics: the producer side of the feed (demo, tests, migrations)."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaError, Message, Producer

from processor.avro import PLAIN, Serde
from processor.domain.model import Device, Party, Registration
from processor.errors import NotDelivered
from processor.kafka.edge import produce
from processor.names import Schema


def encode_registration(record: Registration, serde: Serde = PLAIN, topic: str = "") -> bytes:
    return serde.encode(
        Schema.REGISTRATION_CHANGE,
        {
            "mpxn": record.mpxn,
            "fuel": record.fuel.value,
            "network_operator_id": record.network_operator_id,
            "supplier_id": record.supplier_id,
            "effective_from": record.effective_from,
            "sequence": record.sequence,
        },
        topic,
    )


def encode_party(entity_id: str, party: Party, serde: Serde = PLAIN, topic: str = "") -> bytes:
    return serde.encode(
        Schema.PARTY_CREDENTIAL,
        {
            "entity_id": entity_id,
            "party_id": party.party_id,
            "role": party.role,
            "valid_from": party.valid_from,
            "valid_to": party.valid_to,
        },
        topic,
    )


def encode_device(record: Device, serde: Serde = PLAIN, topic: str = "") -> bytes:
    return serde.encode(
        Schema.DEVICE_INVENTORY,
        {
            "device_id": record.device_id,
            "device_type": record.device_type.value,
            "mpxns": list(record.mpxns),
            "status": record.status.value,
            "effective_from": record.effective_from,
            "sequence": record.sequence,
            "import_mpxn": record.import_mpxn,
        },
        topic,
    )


def publish(producer: Producer, topic: str, records: Iterable[tuple[bytes | None, bytes | None, int]]) -> int:
    """Produce (key, value, timestamp ms; 0 = the time of sending) records, serving delivery callbacks as it
    goes; returns how many were sent. Raises RuntimeError when any was not delivered, naming the first cause."""
    failed: list[str] = []

    def delivered(error: KafkaError | None, _msg: Message) -> None:
        if error is not None:
            failed.append(error.str())

    sent = 0
    for key, value, timestamp in records:
        produce(producer, topic, value, key, on_delivery=delivered, timestamp=timestamp)
        sent += 1
        if sent % 10_000 == 0:
            producer.poll(0)
    if producer.flush(60) != 0:
        raise NotDelivered(f"{topic}: not every record was delivered within 60 s")
    if failed:
        raise NotDelivered(f"{topic}: {len(failed):,} of {sent:,} records were not delivered: {failed[0]}")
    return sent


def publish_registrations(producer: Producer, topic: str, records: Iterable[Registration], serde: Serde = PLAIN) -> int:
    return publish(producer, topic, ((r.mpxn.encode(), encode_registration(r, serde, topic), 0) for r in records))


def publish_parties(
    producer: Producer, topic: str, credentials: Iterable[tuple[str, Party]], serde: Serde = PLAIN
) -> int:
    return publish(producer, topic, ((e.encode(), encode_party(e, p, serde, topic), 0) for e, p in credentials))


def publish_devices(producer: Producer, topic: str, records: Iterable[Device], serde: Serde = PLAIN) -> int:
    """Keyed by the device's EUI-64 in the canonical dashed form (the compacted topic's contract)."""
    return publish(producer, topic, ((r.device_id.encode(), encode_device(r, serde, topic), 0) for r in records))
