"""Every srguard metric, declared once. Base units (seconds, records), bounded labels.

Label values come from closed sets: ``branch`` (rule branches), ``code``/``reason`` (the project's
response codes and reasons), ``error_class`` (decode error classes), ``topic``/``partition`` (the
assignment), ``result``, ``kind``, ``cause``.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import threading
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from processor import __version__
from processor.observability.feed import FeedStatus

BATCH_BUCKETS = (1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RepeatedObservations(Collector):
    """A histogram fed many equal observations at once: every SR of a batch waits for all of it, so a
    batch of n SRs is n observations of its time, counted in one step instead of n (off the hot path)."""

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...], registry: CollectorRegistry) -> None:
        self.name, self.documentation, self.bounds = name, documentation, buckets
        self._counts = [0] * (len(buckets) + 1)  # the last one: above every bound (+Inf)
        self._sum = 0.0
        self._lock = threading.Lock()
        registry.register(self)

    def observe(self, value: float, times: int = 1) -> None:
        with self._lock:
            self._counts[bisect.bisect_left(self.bounds, value)] += times
            self._sum += value * times

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, buckets = 0, []
        for bound, count in zip([*map(str, self.bounds), "+Inf"], counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily(self.name, self.documentation, buckets=buckets, sum_value=total)


class Metrics:
    """One registry per process (tests build their own, so nothing is global)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self._feed_rejected_seen = self._feed_rebuilds_seen = 0
        self.consumed = Counter("srguard_sr_consumed", "SRs read from the input topic.", registry=r)
        self.accepted = Counter(
            "srguard_sr_accepted", "SRs written to the accepted topic, by rule branch.", ["branch"], registry=r
        )
        self.rejected = Counter("srguard_sr_rejected", "SRs rejected (enforce mode).", ["code", "reason"], registry=r)
        self.audited = Counter(
            "srguard_sr_audited",
            "Would-be rejections written to the audit topic (audit mode).",
            ["code", "reason"],
            registry=r,
        )
        self.dlq = Counter(
            "srguard_sr_dlq", "Undecodable SRs sent to the dead-letter topic.", ["error_class"], registry=r
        )
        self.incidents = Counter(
            "srguard_incidents",
            "Rejections (would-be rejections in audit mode) by the registered NO's market id ('none' if none) "
            "and the originating supplier's ('unknown' if not in the party directory).",
            ["network_operator", "supplier"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "srguard_batch_processing_seconds",
            "Wall time of one batch: decode, look up, decide, produce (exactly-once: and commit its transaction; "
            "at-least-once: outputs are delivered and offsets committed asynchronously, after it).",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.sr_seconds = RepeatedObservations(
            "srguard_sr_processing_seconds",
            "Time each SR spends in srguard: from its batch being taken off the consumer until the batch's "
            "outputs are produced (exactly-once: committed) (observed once per SR).",
            BATCH_BUCKETS,
            r,
        )
        self.lookups = Counter("srguard_registration_lookups", "Registration look-ups made.", registry=r)
        self.lookup_misses = Counter(
            "srguard_registration_misses", "Look-ups that found no registration in force.", registry=r
        )
        self.inventory_misses = Counter(
            "srguard_inventory_misses",
            "Candidate SRs whose device the inventory does not hold: their own MPxN and device type stood "
            "(Avro input), or they were rejected as unknown_device (DUIS input).",
            registry=r,
        )
        self.feed_lag_records = Gauge(
            "srguard_feed_lag_records", "Reference feed: records behind the topics' end.", registry=r
        )
        self.feed_lag_seconds = Gauge(
            "srguard_feed_lag_seconds", "Reference feed: age of the oldest unapplied record seen.", registry=r
        )
        self.feed_ready = Gauge(
            "srguard_feed_ready", "1 once the reference feed has caught up since start-up.", registry=r
        )
        self.producer_rebuilds = Counter(
            "srguard_producer_rebuilds",
            "Transactional producers abandoned because a call into the broker did not return within its bound.",
            registry=r,
        )
        self.feed_rebuilds = Counter(
            "srguard_feed_rebuilds",
            "Times the feed found Redis without its reference data (lost) and rebuilt it from the topics.",
            registry=r,
        )
        self.untrusted_certificates = Gauge(
            "srguard_untrusted_certificates_allowed",
            "1 when srguard runs without a trust store (enforce mode only with allow_untrusted_certificates): "
            "certificate issuers are not checked, in either mode.",
            registry=r,
        )
        self.trust_anchor_expiry = Gauge(
            "srguard_trust_anchor_earliest_expiry_timestamp_seconds",
            "When the trust store's first Organisation CA certificate lapses (Unix time; 0 without a trust store): "
            "certificates it signed are rejected as untrusted from then on.",
            registry=r,
        )
        self.feed_rejected = Counter(
            "srguard_feed_rejected_records",
            "Reference records set aside (undecodable or refused by the store): see <prefix>:feed:rejected.",
            registry=r,
        )
        self.feed_stopped = Gauge(
            "srguard_feed_stopped", "1 when the reference feed's loop has ended: srguard stops deciding.", registry=r
        )
        self.consumer_lag = Gauge(
            "srguard_consumer_lag_records",
            "SR consumer lag per partition this instance fetches (librdkafka statistics).",
            ["topic", "partition"],
            registry=r,
        )
        self.transactions = Counter("srguard_transactions", "Kafka transactions, by result.", ["result"], registry=r)
        self.rebalances = Counter("srguard_rebalances", "Partition assignments and revocations.", ["kind"], registry=r)
        self.pauses = Counter(
            "srguard_infrastructure_pauses", "Pauses because a dependency failed, by cause.", ["cause"], registry=r
        )
        self.paused = Gauge("srguard_paused", "1 while processing is paused, by cause.", ["cause"], registry=r)
        self.ready = Gauge(
            "srguard_ready", "1 when the processor is ready (feed caught up, partitions assigned).", registry=r
        )
        self.build = Info("srguard_build", "srguard version.", registry=r)
        self.build.info({"version": __version__})

    def observe_consumer_stats(self, raw: str) -> None:
        """librdkafka's statistics (the consumer's ``stats_cb``): the lag of each partition it fetches. A
        partition no longer fetched (revoked) loses its series, so that lag summed across instances counts
        each partition once."""
        for topic, data in json.loads(raw).get("topics", {}).items():
            for partition, p in data.get("partitions", {}).items():
                if partition == "-1":  # librdkafka's internal unassigned partition
                    continue
                if p.get("fetch_state") == "active" and p.get("consumer_lag", -1) >= 0:
                    self.consumer_lag.labels(topic, partition).set(p["consumer_lag"])
                else:
                    with contextlib.suppress(KeyError):  # never had a series
                        self.consumer_lag.remove(topic, partition)

    def observe_feed(self, status: FeedStatus) -> None:
        """The reference feed's status after each of its batches (or each look at a feed elsewhere)."""
        self.feed_rejected.inc(max(0, status.rejected - self._feed_rejected_seen))
        self._feed_rejected_seen = status.rejected
        self.feed_rebuilds.inc(max(0, status.rebuilds - self._feed_rebuilds_seen))
        self._feed_rebuilds_seen = status.rebuilds
        self.feed_stopped.set(1 if status.failed else 0)
        self.feed_ready.set(1 if status.ready else 0)
        self.feed_lag_records.set(status.lag_records)
        self.feed_lag_seconds.set(status.lag_seconds)
