"""100,000 SRs through the processing step, one in five with a hostile certificate (the same truncated
one, or a new random one each time): resident memory stays flat."""

from __future__ import annotations

import gc
import random
from dataclasses import replace

import pytest

from processor.config import Mode, Topics
from processor.devkit.simulate.population import build_population
from processor.devkit.simulate.traffic import TrafficGenerator, TrafficMix
from processor.domain.certificates import CertificateReader, KeyUsage, TrustStore
from processor.domain.decision import Branch, Policy
from processor.domain.model import CertificateUsage, ReplacementCertificate
from processor.domain.reference import separate_lookups
from processor.kafka.records import Input, Source
from processor.stream.judge import Judge
from processor.stream.serde import encode_service_request
from tests.proc import rss_mb

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
POPULATION = build_population(seed=31, meter_points=500)
TOTAL, BATCH = 100_000, 500


def test_rss_stays_flat_over_100k_srs_with_hostile_certificates():
    judge = Judge(
        Topics(),
        Mode.ENFORCE,
        Policy(),
        CertificateReader(trust_store=TrustStore([POPULATION.pki.oca])),
        separate_lookups(POPULATION.registrations_in_force, POPULATION.directory),
    )
    traffic = TrafficGenerator(POPULATION, TrafficMix(in_scope=0.5, incident_rate=0.2), seed=4).take(2000)
    candidates = [i.sr for i in traffic if i.branch is Branch.REGISTERED_OWNER]
    normal = [encode_service_request(i.sr) for i in traffic]
    good = next(iter(POPULATION.network_operators.values())).certificates[KeyUsage.DIGITAL_SIGNATURE]
    truncated = good[: len(good) // 2]
    rng = random.Random(7)

    def hostile(n: int) -> bytes:
        der = truncated if n % 2 else rng.randbytes(rng.randrange(300, 16_000))  # new bytes: a cache miss each
        sr = replace(
            candidates[n % len(candidates)],
            certificates=(ReplacementCertificate(CertificateUsage.DIGITAL_SIGNING, der),),
        )
        return encode_service_request(sr)

    def run(first: int, count: int) -> int:
        rejected = 0
        for start in range(first, first + count, BATCH):
            batch = [
                Input(b"k", hostile(n) if n % 5 == 0 else normal[n % len(normal)], [], Source("in", 0, n))
                for n in range(start, start + BATCH)
            ]
            result = judge(batch)
            rejected += sum(result.rejected.values())
        return rejected

    run(0, 10_000)  # warm-up: caches and allocator arenas fill
    gc.collect()
    before = rss_mb()
    rejected = run(10_000, TOTAL)
    gc.collect()
    after = rss_mb()
    print(f"RSS {before:.0f} MB -> {after:.0f} MB over {TOTAL} SRs ({rejected} rejected)")
    assert rejected >= TOTAL // 5
    assert after - before < 40, f"RSS grew {after - before:.0f} MB"
