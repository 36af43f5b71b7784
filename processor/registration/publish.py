"""Publishing reference data to its topics: the producer side of the feed (demo, tests, migrations)."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import Producer

from processor.avro import codec
from processor.domain.model import Party, Registration


def encode_registration(record: Registration) -> bytes:
    return codec("RegistrationChange").encode(
        {
            "mpxn": record.mpxn,
            "fuel": record.fuel.value,
            "network_operator_id": record.network_operator_id,
            "supplier_id": record.supplier_id,
            "effective_from": record.effective_from,
            "sequence": record.sequence,
        }
    )


def encode_party(entity_id: str, party: Party) -> bytes:
    return codec("PartyCredential").encode(
        {
            "entity_id": entity_id,
            "party_id": party.party_id,
            "role": party.role,
            "valid_from": party.valid_from,
            "valid_to": party.valid_to,
        }
    )


def publish(producer: Producer, topic: str, records: Iterable[tuple[bytes, bytes | None]]) -> int:
    """Produce (key, value) pairs, serving delivery callbacks as it goes; returns how many were sent."""
    sent = 0
    for key, value in records:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:  # local queue full: let deliveries drain
                producer.poll(0.1)
        sent += 1
        if sent % 10_000 == 0:
            producer.poll(0)
    if producer.flush(60) != 0:
        raise RuntimeError(f"{topic}: not every record was delivered within 60 s")
    return sent


def publish_registrations(producer: Producer, topic: str, records: Iterable[Registration]) -> int:
    return publish(producer, topic, ((r.mpxn.encode(), encode_registration(r)) for r in records))


def publish_parties(producer: Producer, topic: str, credentials: Iterable[tuple[str, Party]]) -> int:
    return publish(producer, topic, ((e.encode(), encode_party(e, p)) for e, p in credentials))
