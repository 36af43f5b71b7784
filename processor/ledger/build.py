"""Build the ledger from the accepted SR topic (live, or a replay's): incremental and idempotent."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from processor import wiring
from processor.avro import DecodeError
from processor.config import Settings
from processor.domain.identifiers import InvalidIdentifier, canonical_eui64
from processor.ledger.model import COMMISSIONING_VARIANTS, PLACEMENT_VARIANTS, LedgerEvent, event_for
from processor.registration.parties import DirectoryCache, PartyStore
from processor.stream.edge import coordinates
from processor.stream.reading import read_history
from processor.stream.serde import Peek, candidate

LEDGER_VARIANTS = COMMISSIONING_VARIANTS | PLACEMENT_VARIANTS


def device_key(device_id: str) -> str:
    """The ledger's key for a device: its canonical EUI-64, so every written form finds the same device."""
    try:
        return canonical_eui64(device_id)
    except InvalidIdentifier:
        return device_id  # not an EUI-64: kept as sent, still one key per spelling


def _places_or_commissions(head: Peek) -> bool:
    return head.variant in LEDGER_VARIANTS


@dataclass
class BuildSummary:
    read: int = 0
    events: int = 0
    devices_changed: int = 0
    undecodable: int = 0
    seconds: float = 0.0


def build_ledger(settings: Settings, topic: str, progress: Callable[[int], None] | None = None) -> BuildSummary:
    store = wiring.ledger_store(settings)
    directory = DirectoryCache(PartyStore(store.client, settings.redis_key_prefix))
    reader = wiring.certificate_reader(settings)
    serde = wiring.serde_from(settings)
    stored = store.stored_offsets()
    resume = {int(name.rsplit(":", 1)[1]): offset for name, offset in stored.items() if name.rsplit(":", 1)[0] == topic}
    summary = BuildSummary()
    started = time.perf_counter()
    for batch in read_history(settings.kafka_config("consumer"), topic, resume=resume):
        parties = directory.refresh()
        events: dict[str, list[LedgerEvent]] = {}
        offsets: dict[str, int] = {}
        for msg in batch:
            _, partition, offset = coordinates(msg)
            offsets[f"{topic}:{partition}"] = offset + 1
            try:
                sr = candidate(msg.value(), _places_or_commissions, serde, topic)
            except DecodeError:
                summary.undecodable += 1
                continue
            if sr is None:
                continue
            event = event_for(sr, parties, reader)
            if event is not None:
                events.setdefault(device_key(sr.target_device_id), []).append(event)
                summary.events += 1
        summary.devices_changed += store.apply(events, offsets)
        summary.read += len(batch)
        if progress:
            progress(summary.read)
    summary.seconds = time.perf_counter() - started
    return summary
