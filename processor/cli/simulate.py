"""``srguard simulate publish``: a generated world and its SR traffic, published into any stack."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

from processor.cli.common import Bootstrap, ConfigFile, console, err, fail, settings_from
from processor.cli.examples import example
from processor.history.archive import check_replay_target, retention_warning
from processor.kafka.edge import error_text, topic_configs
from processor.times import iso_utc

if TYPE_CHECKING:
    from processor.devkit.simulate.traffic import LabelledSR


class Timestamps(StrEnum):
    PUBLISH = "publish"
    SR = "sr"


def _record_times(traffic: list[LabelledSR]) -> str:
    times = [i.sr.submitted_at for i in traffic]
    return f"the SRs' own, {iso_utc(min(times))[:10]} to {iso_utc(max(times))[:10]}"


simulate_app = typer.Typer(help="Generated worlds and SR traffic for trying srguard out.", no_args_is_help=True)


@simulate_app.command("publish", epilog=example("simulate publish"))
def publish(
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    meter_points: Annotated[int, typer.Option(min=100, help="Meter points in the generated population.")] = 2_000,
    srs: Annotated[int, typer.Option(min=1, help="Service Requests to publish.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Everything generated is deterministic for a seed.")] = 1,
    duis: Annotated[
        bool, typer.Option("--duis", help="SRs as DUIS XML, plus the device inventory DUIS input needs.")
    ] = False,
    trust_store_out: Annotated[
        Path, typer.Option(help="Where the generated SMKI OCA certificate is written (srguard run --trust-store).")
    ] = Path("srguard-simulated-oca.pem"),
    wrong_registrations: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.25,
            help="Share of meter points registered to a neighbouring NO while its true NO runs them (and as many "
            "decoys whose devices hold a neighbour's certificates); the truth goes to --truth-out.",
        ),
    ] = 0.0,
    truth_out: Annotated[
        Path,
        typer.Option(
            help="Folder for cells.csv (the devices' NO cells as read: srguard ledger baseline) and planted.csv "
            "(the wrong registrations: srguard suspects --truth)."
        ),
    ] = Path("srguard-simulated-truth"),
    timestamps: Annotated[
        Timestamps,
        typer.Option(
            help="Avro SRs' record time: publish (now: a live stream) or sr (each SR's own time, mid-2019 to "
            "mid-2025: SR history for export, replay and report). DUIS SRs always carry their receipt time."
        ),
    ] = Timestamps.PUBLISH,
) -> None:
    """Publish a generated population (registrations, party directory; device inventory with --duis) and
    SR traffic with planted incidents to the configured topics, which must exist (srguard topics create)."""
    from processor.devkit.simulate.world import publish_reference, publish_requests, simulate, write_truth

    settings = settings_from(config, bootstrap_servers=bootstrap_servers)
    topics = settings.topics
    wanted = [topics.registrations, topics.parties, topics.requests] + ([topics.devices] if duis else [])
    try:
        metadata = AdminClient(settings.kafka_config("admin")).list_topics(timeout=15)
    except KafkaException as exc:
        raise fail(f"cannot reach Kafka at {settings.bootstrap_servers}: {error_text(exc)}") from exc
    missing = [t for t in wanted if t not in metadata.topics]
    if missing:
        raise fail(f"topics {', '.join(missing)} do not exist: create them with 'srguard topics create'")
    sr_time = timestamps is Timestamps.SR and not duis
    if sr_time:  # history: the topic must keep each SR's own time, and keep records that old
        target_config = topic_configs(settings.kafka_config("admin"), [topics.requests]).get(topics.requests, {})
        check_replay_target(target_config, topics.requests)
    started = time.perf_counter()
    simulation = simulate(seed, meter_points, srs, duis, wrong_registrations)
    try:
        trust_store_out.write_bytes(simulation.population.pki.oca_pem())
    except OSError as exc:
        raise fail(f"cannot write --trust-store-out {trust_store_out}: {exc.strerror}") from exc
    try:
        truth_out.mkdir(parents=True, exist_ok=True)
        cells, wrong = write_truth(simulation, truth_out / "cells.csv", truth_out / "planted.csv")
    except OSError as exc:
        raise fail(f"cannot write --truth-out {truth_out}: {exc.strerror}") from exc
    console.print(
        f"generated {meter_points:,} meter points and {srs:,} SRs (seed {seed}) in {time.perf_counter() - started:.1f}s"
    )
    producer = Producer(settings.kafka_config("producer", **{"enable.idempotence": True, "linger.ms": 20}))
    try:
        published = publish_reference(producer, topics, simulation)
        console.print("published " + ", ".join(f"{n:,} {what}" for what, n in published.items()), soft_wrap=True)
        sent = publish_requests(producer, topics.requests, simulation, sr_time)
    except (KafkaException, RuntimeError) as exc:
        raise fail(f"publishing to {settings.bootstrap_servers} failed: {error_text(exc)}") from exc
    planted = simulation.planted
    if sr_time:
        first = min(i.sr.submitted_at for i in simulation.traffic)
        warning = retention_warning(target_config, topics.requests, first, int(time.time() * 1000))
        if warning:
            err.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    console.print(
        f"published {sent:,} SRs to {topics.requests} ({'DUIS XML' if duis else 'Avro'}; record times: "
        f"{_record_times(simulation.traffic) if sr_time or duis else 'now'}), "
        f"{sum(planted.values()):,} of them planted to be rejected: "
        + ", ".join(f"{reason} {n}" for reason, n in sorted(planted.items())),
        soft_wrap=True,
    )
    console.print(
        f"wrote {truth_out / 'cells.csv'} ({cells:,} NO cells as read: srguard ledger baseline) and "
        f"{truth_out / 'planted.csv'} ({wrong:,} wrong registrations planted: srguard suspects --truth)",
        soft_wrap=True,
    )
    console.print(
        f"judge them with: srguard run --trust-store {trust_store_out}"
        + (" (with SRGUARD_INPUT_FORMAT=duis)" if duis else ""),
        soft_wrap=True,  # a command to copy: never wrapped
    )
