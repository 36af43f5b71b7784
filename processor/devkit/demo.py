"""``srguard demo``: the whole job on the embedded stack, start to finish, with a readable summary."""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from processor import wiring
from processor.avro import codec
from processor.config import InputFormat, Settings, load_settings
from processor.devkit.simulate.duis import inventory
from processor.devkit.simulate.world import Simulation, publish_reference, publish_requests, simulate, write_truth
from processor.devkit.stack import EmbeddedStack, free_port
from processor.domain.decision import Branch
from processor.domain.model import RemotePartyRole
from processor.history.render import headline_text
from processor.history.sources import count_scope, rejections_from_topic, requests_from_topic, sr_fields
from processor.history.stats import IncidenceStats, Scope
from processor.kafka.topics import create_topics, topic_layout
from processor.ledger.build import BuildSummary, build_ledger, load_snapshot
from processor.ledger.evidence import Evidence, collect_evidence
from processor.ledger.population import population_at
from processor.ledger.store import LedgerStore
from processor.ledger.suspects import Findings, Measured, evidence_of, find_suspects, measure
from processor.names import Schema
from processor.registration.lookup import Stores
from processor.stream.app import run

PARTITIONS = 3


@dataclass
class DemoResult:
    published: int
    consumed: int
    seconds: float
    metrics_url: str
    outcomes: Counter[str] = field(default_factory=Counter)
    codes: Counter[tuple[str, str]] = field(default_factory=Counter)
    expected_rejections: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)
    scope: Scope = field(default_factory=Scope)  # the traffic's in-scope SRs: the rates' denominators
    party_of: Callable[[str, int], str | None] = lambda _entity, _at: None
    ledger: BuildSummary | None = None
    evidence: Evidence | None = None
    suspects: Findings | None = None
    measured: Measured | None = None
    reachable: int = 0  # planted wrong registrations whose MPxN saw any SR placing NO certificates

    @property
    def rate(self) -> float:
        return self.consumed / self.seconds if self.seconds else 0.0


def _read_rejections(settings: Settings, topic: str, expect: int, timeout: float = 30) -> list[dict[str, Any]]:
    consumer = Consumer(
        settings.kafka_config(
            "consumer",
            **{"group.id": "srguard-demo-reader", "isolation.level": "read_committed", "enable.auto.commit": False},
        )
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < expect and time.monotonic() < deadline:
            batch = consumer.consume(1000, 0.5)
            found += [codec(Schema.SR_REJECTION).decode(m.value() or b"") for m in batch if not m.error()]
    finally:
        consumer.close()
    return found


def run_demo(
    console: Console,
    meter_points: int = 30_000,
    srs: int = 100_000,
    seed: int = 1,
    duis: bool = False,
    wrong_registrations: float = 0.0,
) -> DemoResult:
    """``duis``: the SRs travel as DUIS XML and the device inventory names their targets' type and MPxN;
    ``wrong_registrations``: the share of MPxNs registered to a neighbouring NO, for ``suspects`` to find."""
    with tempfile.TemporaryDirectory(prefix="srguard-demo-") as tmp, EmbeddedStack() as stack:
        console.print(
            f"embedded stack: {stack.state.broker} at {stack.kafka_bootstrap} (answered after "
            f"{stack.state.broker_start_seconds:.1f}s), Redis at {stack.redis_url}"
        )
        started = time.perf_counter()
        simulation = simulate(seed, meter_points, srs, duis, wrong_registrations)
        population, traffic = simulation.population, simulation.traffic
        trust = Path(tmp) / "smki-oca.pem"
        trust.write_bytes(population.pki.oca_pem())
        console.print(
            f"generated {meter_points:,} meter points ({len(population.network_operators)} network operators, "
            f"{len(population.suppliers)} suppliers), an SMKI-like PKI and {srs:,} SRs "
            f"in {time.perf_counter() - started:.1f}s"
        )
        settings: Settings = load_settings(
            bootstrap_servers=stack.kafka_bootstrap,
            redis_url=stack.redis_url,
            metrics_port=free_port(),
            trust_store=trust,
            registration_buckets=1024,
            device_buckets=1024,
            input_format=InputFormat.DUIS if duis else InputFormat.AVRO,
            group_id="srguard-demo",
            kafka={"consumer.session.timeout.ms": "6000", "consumer.heartbeat.interval.ms": "500"},
        )
        create_topics(AdminClient(settings.kafka_config("admin")), topic_layout(settings.topics), PARTITIONS)
        # Every client is made from the settings: its librdkafka logs go through srguard's logging.
        producer = Producer(settings.kafka_config("producer", **{"linger.ms": 20, "enable.idempotence": True}))
        published = publish_reference(producer, settings.topics, simulation)
        console.print("published " + ", ".join(f"{n:,} {what}" for what, n in published.items()), soft_wrap=True)
        if duis:
            console.print("the SRs travel as DUIS XML")

        app = wiring.processor_app(settings)
        stop = threading.Event()
        worker = threading.Thread(target=run, args=(settings, stop, app), name="srguard-demo")
        worker.start()
        try:
            while app.processor.readiness()[0] is False and worker.is_alive():
                time.sleep(0.1)
            publish_requests(producer, settings.topics.requests, simulation)
            consumed = app.processor.metrics.consumed
            with Progress(
                TextColumn("judging SRs"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as progress:
                task = progress.add_task("judge", total=srs)
                first_seen = None
                while consumed._value.get() < srs and worker.is_alive():
                    if first_seen is None and consumed._value.get() > 0:
                        first_seen = time.perf_counter()
                    progress.update(task, completed=consumed._value.get())
                    time.sleep(0.1)
                seconds = time.perf_counter() - (first_seen or time.perf_counter())
            if not worker.is_alive():
                raise RuntimeError("the processor stopped early; see the log above")
            result = DemoResult(
                srs, int(consumed._value.get()), seconds, f"http://127.0.0.1:{app.endpoint.port}/metrics"
            )
            for sample in next(iter(app.processor.metrics.accepted.collect())).samples:
                if sample.name.endswith("_total"):
                    result.outcomes[f"accepted ({sample.labels['branch']})"] += int(sample.value)
            result.expected_rejections = sum(1 for item in traffic if item.rejected)
            rejections = _read_rejections(settings, settings.topics.rejected, result.expected_rejections)
            directory = population.directory()
            result.rejections = rejections

            result.party_of = directory.party_of
            result.scope = count_scope(Scope(), (sr_fields(i.sr) for i in traffic), directory.party_of)
            for rejection in rejections:
                result.codes[(rejection["response_code"], rejection["reason"])] += 1
            result.outcomes["rejected"] = len(rejections)
            # The evidence pack: the ledger from the accepted SRs, devices judged against the inventory.
            wiring.stores(settings).devices.apply(inventory(population))
            result.ledger = build_ledger(settings, wiring.ledger_parts(settings), settings.topics.accepted)
            now = int(time.time() * 1000)
            rejected = rejections_from_topic(
                settings.kafka_config("consumer"), settings.topics.rejected, wiring.serde_from(settings)
            )
            reference, ledger = wiring.reference_and_ledger(settings)
            result.evidence = collect_evidence(list(rejected), reference, ledger, (None, None), now, 30)
            if wrong_registrations:
                _find_suspects(settings, (reference, ledger), simulation, result, Path(tmp), now)
        finally:
            stop.set()
            worker.join(60)
            producer.flush(10)
            del producer  # before the stack stops: a live client would log its lost connections after it
    return result


def _find_suspects(
    settings: Settings,
    stores: tuple[Stores, LedgerStore],
    simulation: Simulation,
    result: DemoResult,
    tmp: Path,
    now: int,
) -> None:
    """`srguard suspects` on the demo's world: the devices' cells as read into the ledger, then every rule's
    evidence (the rejections, the accepted SRs, the ledger), measured against the planted truth."""
    write_truth(simulation, tmp / "cells.csv", tmp / "planted.csv")
    reference, ledger = stores
    load_snapshot(ledger, tmp / "cells.csv")
    lookups = wiring.report_lookups(settings)
    assert lookups is not None, "the demo's Redis answered a moment ago"
    directory, registered_of, subjects = lookups
    accepted = requests_from_topic(
        settings.kafka_config("consumer"), settings.topics.accepted, wiring.serde_from(settings), Scope(),
        subjects=subjects,
    )  # fmt: skip
    views = population_at(reference, ledger, now, 30, directory).devices
    evidence = evidence_of(result.rejections, accepted, views, directory, registered_of, now, 30)
    result.suspects = find_suspects(evidence, registered_of, now)
    truth = [(mpxn, true) for mpxn, _, true in simulation.population.wrong_registrations()]
    result.measured = measure(result.suspects, truth)
    planted = {mpxn for mpxn, _ in truth}
    seen = {  # judged placements of NO certificates: what the rules can read
        i.sr.mpxn
        for i in simulation.traffic
        if i.sr.remote_party_role is RemotePartyRole.NETWORK_OPERATOR and i.branch is not Branch.OUT_OF_SCOPE
    }
    result.reachable = len(planted & seen)


def print_summary(result: DemoResult, stats: IncidenceStats, report_dir: Path, console: Console) -> bool:
    """The demo's tables and closing lines; True when the rejections match the planted incidents."""
    table = Table(
        "outcome",
        "SRs",
        title=f"{result.consumed:,} SRs judged in {result.seconds:.1f}s "
        f"({result.rate:,.0f} SR/s, exactly-once, one process)",
    )
    for outcome, count in sorted(result.outcomes.items(), key=lambda kv: -kv[1]):
        table.add_row(outcome, f"{count:,}")
    console.print(table)
    codes = Table("code", "reason", "SRs", title="Rejections by code (project-defined codes, see README)")
    for (code, reason), count in result.codes.most_common():
        codes.add_row(code, reason, f"{count:,}")
    console.print(codes)
    pairs = Table("supplier -> registered NO (certificates placed)", "SRs", title="Top incident pairs")
    for pair, count in stats.pairs.most_common(8):  # wrong-owner incidents only (report.stats)
        pairs.add_row(pair, f"{count:,}")
    console.print(pairs)
    matches = result.outcomes["rejected"] == result.expected_rejections
    console.print(
        f"rejections: {result.outcomes['rejected']:,}, which {'matches' if matches else 'DOES NOT match'} the "
        f"{result.expected_rejections:,} incidents the generator planted"
    )
    console.print(f"{headline_text(stats)}; report: {report_dir / 'incidence.html'} (+ .csv, .json)")
    console.print(f"/metrics was served at {result.metrics_url} while the demo ran")
    console.print("stack stopped; nothing left running")
    return matches
