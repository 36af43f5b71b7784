"""srguard_sr_processing_seconds takes a batch's n equal observations in one step: it must expose exactly
what a prometheus_client Histogram fed them one by one exposes."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from processor.observability.metrics import BATCH_BUCKETS, Metrics, RepeatedObservations

BATCHES = [(0.0004, 3), (0.001, 7), (0.0301, 1000), (2.5, 2), (12.0, 5), (0.05, 1)]


def test_n_observations_at_once_expose_what_n_single_observations_do():
    ours_registry, reference_registry = CollectorRegistry(), CollectorRegistry()
    ours = RepeatedObservations("x_seconds", "doc", BATCH_BUCKETS, ours_registry)
    reference = Histogram("x_seconds", "doc", buckets=BATCH_BUCKETS, registry=reference_registry)
    for value, times in BATCHES:
        ours.observe(value, times)
        for _ in range(times):
            reference.observe(value)

    def samples(registry: CollectorRegistry) -> list[str]:
        return [line for line in generate_latest(registry).decode().splitlines() if not line.startswith("#")]

    expected = [s for s in samples(reference_registry) if "_created" not in s]
    found = samples(ours_registry)
    exact = [s for s in expected if "_sum " not in s]  # the sum: n additions against one multiplication
    assert [s for s in found if "_sum " not in s] == exact and any('le="+Inf"} 1018.0' in s for s in exact)

    def total(lines: list[str]) -> float:
        (line,) = (s for s in lines if "_sum " in s)
        return float(line.split()[-1])

    assert total(found) == pytest.approx(total(expected))


def test_the_processing_histogram_is_in_the_metrics_registry():
    metrics = Metrics()
    metrics.sr_seconds.observe(0.02, 4)
    text = generate_latest(metrics.registry).decode()
    assert 'srguard_sr_processing_seconds_bucket{le="0.025"} 4.0' in text
    assert "srguard_sr_processing_seconds_count 4.0" in text
