"""decide() per-SR cost with a warm certificate cache, for each kind of SR, on one core."""

from __future__ import annotations

import platform
import statistics
import time

from processor.devkit.simulate.population import build_population
from processor.devkit.simulate.traffic import TrafficGenerator, TrafficMix
from processor.domain.certificates import CertificateReader, TrustStore
from processor.domain.rule import decide

REPEATS = 5


def run(count: int = 50_000) -> dict[str, float]:
    population = build_population(seed=1, meter_points=20_000)
    reader = CertificateReader(trust_store=TrustStore([population.pki.oca]))
    directory = population.directory()
    points = {p.mpxn: p for p in population.meter_points}
    results: dict[str, float] = {}
    mixes = {
        "realistic (5% in scope, 1% incidents)": TrafficMix(),
        "all in scope (30% incidents)": TrafficMix(in_scope=1.0, incident_rate=0.3),
    }
    for name, mix in mixes.items():
        labelled = TrafficGenerator(population, mix, seed=2).take(count)
        cases = []
        for item in labelled:
            point = points.get(item.sr.mpxn or "")
            cases.append((item.sr, point.registration_at(item.sr.as_of) if point else None))
        for sr, registration in cases:  # warm the certificate cache
            decide(sr, registration, directory, reader)
        timings = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            for sr, registration in cases:
                decide(sr, registration, directory, reader)
            timings.append((time.perf_counter() - start) / count * 1e6)
        results[name] = statistics.median(timings)
        print(
            f"decide() {name}: median {results[name]:.2f} µs/SR over {REPEATS}x{count} SRs "
            f"(spread {min(timings):.2f}-{max(timings):.2f}); {platform.python_implementation()} "
            f"{platform.python_version()}"
        )
    return results


if __name__ == "__main__":
    run()
