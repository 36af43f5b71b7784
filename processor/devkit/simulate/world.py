"""A generated world as one thing to make and publish: population, PKI and labelled SR traffic, in
Avro or as DUIS XML (with the device inventory DUIS needs). Used by ``srguard demo`` and
``srguard simulate publish``."""

from __future__ import annotations

import csv
import itertools
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer
from cryptography.hazmat.primitives.serialization import Encoding

from processor.devkit.simulate.duis import carried_by_duis, inventory, publish_duis_traffic
from processor.devkit.simulate.population import Population, build_population
from processor.devkit.simulate.publish import publish_reference_data, publish_traffic
from processor.devkit.simulate.traffic import LabelledSR, TrafficGenerator, TrafficMix
from processor.names import Topics
from processor.registration.publish import publish_devices
from processor.times import iso_utc

DAY_MS = 86_400_000
INCIDENT_RATE = 0.03  # of in-scope SRs: enough rejections to read a report by


@dataclass(frozen=True)
class Simulation:
    population: Population
    traffic: list[LabelledSR]
    duis: bool

    @property
    def planted(self) -> Counter[str]:
        """The rejections the traffic was generated to cause, by reason."""
        return Counter(i.reason.value for i in self.traffic if i.reason is not None)


def simulate(seed: int, meter_points: int, srs: int, duis: bool, wrong_registrations: float = 0.0) -> Simulation:
    """``wrong_registrations``: the share of meter points registered to a neighbouring NO (population.plant)."""
    population = build_population(seed, meter_points, wrong_registrations=wrong_registrations)
    if duis:  # a DUIS SR's receipt time is its record's timestamp: keep it within the topic's retention
        now = int(time.time() * 1000)
        mix = TrafficMix(incident_rate=INCIDENT_RATE, start=now - DAY_MS, end=now)
        traffic = list(itertools.islice(carried_by_duis(population, TrafficGenerator(population, mix, seed=seed)), srs))
    else:
        traffic = TrafficGenerator(population, TrafficMix(incident_rate=INCIDENT_RATE), seed=seed).take(srs)
    return Simulation(population, traffic, duis)


def publish_reference(producer: Producer, topics: Topics, simulation: Simulation) -> dict[str, int]:
    """The registrations, the party directory and (for DUIS) the device inventory: counts published."""
    registrations, credentials = publish_reference_data(producer, topics, simulation.population)
    published = {"registration changes": registrations, "party credentials": credentials}
    if simulation.duis:
        published["device inventory records"] = publish_devices(
            producer, topics.devices, inventory(simulation.population)
        )
    return published


def publish_requests(producer: Producer, topic: str, simulation: Simulation, sr_time: bool = False) -> int:
    """The SR traffic; Avro records stamped now, or with ``sr_time`` at each SR's own time (DUIS records
    always carry their receipt time: DUIS has no field for it)."""
    if simulation.duis:
        oca = simulation.population.pki.oca.public_bytes(Encoding.DER)
        return publish_duis_traffic(producer, topic, simulation.traffic, oca)
    return publish_traffic(producer, topic, simulation.traffic, sr_time=sr_time)


def write_truth(simulation: Simulation, cells: Path, planted: Path) -> tuple[int, int]:
    """The devices' NO cells as a snapshot read them after the traffic (``srguard ledger baseline``) and the
    planted wrong registrations (``srguard suspects --truth``): (cells, wrong registrations) written."""
    population = simulation.population
    rows = population.cells_as_read(max(i.sr.submitted_at for i in simulation.traffic) + 60_000)  # read just after
    with cells.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["device_id", "cell", "entity_id", "as_of"])
        writer.writerows((device, cell, entity, iso_utc(at)) for device, cell, entity, at in rows)
    wrong = population.wrong_registrations()
    with planted.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["mpxn", "registered_no", "true_no"])
        writer.writerows(wrong)
    return len(rows), len(wrong)
