"""DUIS input: SR/s through the judge for a DUIS mix (no Kafka: the decode/look-up/decide cost), and Redis
bytes per device for the device inventory at 1M devices (the real CSV loader)."""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from pathlib import Path

import redis
from cryptography.hazmat.primitives.serialization import Encoding

from processor.config import Mode
from processor.devkit.simulate.duis import carried_by_duis, inventory, request_xml
from processor.devkit.simulate.population import build_population
from processor.devkit.simulate.traffic import TrafficGenerator, TrafficMix
from processor.devkit.stack import EmbeddedStack
from processor.domain.certificates import CertificateReader, TrustStore
from processor.domain.decision import Policy
from processor.domain.reference import separate_lookups
from processor.kafka.records import Input, Source
from processor.names import Topics
from processor.registration.devices import DeviceInventoryStore
from processor.registration.loader import load_devices
from processor.registration.store import tune_listpacks
from processor.stream.judge import Judge
from processor.stream.serde import duis_reader

DEVICES = 1_000_000
BUCKETS = 1 << 14
SRS = 50_000
BATCH = 1000
REPEATS = 3


def _mix_rate() -> tuple[float, list[float]]:
    """SR/s for 5% in-scope DUIS traffic (1% of it incidents), in-memory look-ups, warm certificate cache."""
    population = build_population(seed=3, meter_points=20_000)
    devices = {d.device_id: d for d in inventory(population)}
    now = int(time.time() * 1000)
    mix = TrafficMix(start=now - 86_400_000, end=now)
    traffic = list(itertools.islice(carried_by_duis(population, TrafficGenerator(population, mix, seed=3)), SRS))
    oca = population.pki.oca.public_bytes(Encoding.DER)
    inputs = [
        Input(i.sr.target_device_id.encode(), request_xml(i.sr, oca), [], Source("in", 0, n), i.sr.submitted_at)
        for n, i in enumerate(traffic)
    ]
    judge = Judge(
        Topics(),
        Mode.ENFORCE,
        Policy(),
        CertificateReader(trust_store=TrustStore([population.pki.oca])),
        separate_lookups(
            population.registrations_in_force,
            population.directory,
            lambda queries: [devices.get(d) for d, _ in queries],
        ),
        read=duis_reader,
    )
    rates = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        for start in range(0, len(inputs), BATCH):
            judge(inputs[start : start + BATCH])
        rates.append(len(inputs) / (time.perf_counter() - started))
    return statistics.median(rates), rates


def _bytes_per_device(count: int) -> float:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStack(kafka=False) as stack:
        path = Path(tmp) / "devices.csv"
        with path.open("w") as out:
            out.write("device_id,device_type,mpxn,status,effective_from,sequence\n")
            for n in range(count):
                kind, mpxn = ("ESME", f"{1200000000000 + n}") if n % 2 else ("GPF", f"{3000000000 + n}")
                out.write(f"{0x00124B0000000000 + n:016X},{kind},{mpxn},Commissioned,{1_500_000_000_000 + n},1\n")
        client = redis.Redis.from_url(stack.redis_url)
        tune_listpacks(client)
        before = client.info("memory")["used_memory"]
        summary = load_devices(path, DeviceInventoryStore(client, "bench", BUCKETS))
        return (client.info("memory")["used_memory"] - before) / summary.counts["inserted"]


def run(devices: int = DEVICES) -> dict[str, float]:
    rate, rates = _mix_rate()
    print(
        f"DUIS mix (5% in scope) through the judge: median {rate:,.0f} SR/s over {REPEATS} runs of {SRS:,} "
        f"(spread {min(rates):,.0f}-{max(rates):,.0f}); one core, no Kafka, in-memory look-ups"
    )
    size = _bytes_per_device(devices)
    print(f"device inventory: {size:.1f} Redis bytes per device at {devices:,} with {BUCKETS} buckets; goal <= 64")
    return {"duis_mix_sr_per_s": rate, "bytes_per_device": size}


if __name__ == "__main__":
    run()
