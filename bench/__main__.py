"""`make bench`: every benchmark, its figures printed and written to bench/results/latest.{json,md}."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path

from bench import decide, duis, ledger, registration, stream

RESULTS = Path(__file__).parent / "results"


def _machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = int(
        next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    ) // (1024 * 1024)
    return f"{os.cpu_count()} cores ({model}), {memory} GiB, Python {platform.python_version()}"


def _markdown(results: dict) -> str:
    s = results["stream"]
    alos, eos = s["throughput_at_least_once"], s["throughput_exactly_once"]
    rows = [
        (
            "processor, at-least-once",
            f"{alos['processor']['median']:,.0f} SR/s",
            f"{alos['processor']['low']:,.0f}-{alos['processor']['high']:,.0f}",
            ">= 50,000 SR/s",
        ),
        (
            "relay (copy loop), at-least-once",
            f"{alos['copy_loop']['median']:,.0f} SR/s",
            f"{alos['copy_loop']['low']:,.0f}-{alos['copy_loop']['high']:,.0f}",
            "the physical limit here",
        ),
        (
            "ratio processor / relay, at-least-once",
            f"{alos['ratio']['median']:.2f}",
            f"{alos['ratio']['low']:.2f}-{alos['ratio']['high']:.2f}",
            ">= 0.5",
        ),
        (
            "processor, exactly-once",
            f"{eos['processor']['median']:,.0f} SR/s",
            f"{eos['processor']['low']:,.0f}-{eos['processor']['high']:,.0f}",
            "",
        ),
        (
            "relay (copy loop), exactly-once",
            f"{eos['copy_loop']['median']:,.0f} SR/s",
            f"{eos['copy_loop']['low']:,.0f}-{eos['copy_loop']['high']:,.0f}",
            "",
        ),
        (
            "ratio processor / relay, exactly-once",
            f"{eos['ratio']['median']:.2f}",
            f"{eos['ratio']['low']:.2f}-{eos['ratio']['high']:.2f}",
            ">= 0.5",
        ),
        (
            "replay topic, audit mode",
            f"{s['replay_audit']['median']:,.0f} SR/s",
            f"{s['replay_audit']['low']:,.0f}-{s['replay_audit']['high']:,.0f}",
            "",
        ),
    ]
    hop = s["broker_hop_latency"]
    rows.append(
        (
            f"latency at {stream.LATENCY_RATE:,}/s for {stream.LATENCY_SECONDS:.0f}s, the broker alone (one hop)",
            f"p50 {hop['p50_ms']:.1f} / p99 {hop['p99_ms']:.1f} / max {hop['max_ms']:.1f} ms",
            f"p50/p99 per {stream.LATENCY_WINDOW_S}s: "
            + ", ".join(f"{w['p50_ms']:.0f}/{w['p99_ms']:.0f}" for w in hop["windows"])
            + f"; CPU cores {hop['cpu_cores']}",
            "",
        )
    )
    for guarantee, goal in (("at_least_once", "p99 <= 50 ms"), ("exactly_once", "p99 <= 250 ms")):
        for stage, key in (
            ("srguard", f"latency_{guarantee}"),
            ("relay (nothing decided)", f"relay_latency_{guarantee}"),
        ):
            lat = s[key]
            windows = ", ".join(f"{w['p50_ms']:.0f}/{w['p99_ms']:.0f}" for w in lat["windows"])
            rows.append(
                (
                    f"latency at {stream.LATENCY_RATE:,}/s for {stream.LATENCY_SECONDS:.0f}s, "
                    f"{guarantee.replace('_', '-')}, {stage}",
                    f"p50 {lat['p50_ms']:.1f} / p99 {lat['p99_ms']:.1f} / max {lat['max_ms']:.1f} ms",
                    f"{lat['decisions']:,} decisions; input -> output appended (broker time) "
                    f"p50 {lat['p50_to_decision_ms']:.0f}"
                    f" / p99 {lat['p99_to_decision_ms']:.0f} ms; output -> reader p50 "
                    f"{lat['p50_decision_to_reader_ms']:.0f} ms; p50/p99 per {stream.LATENCY_WINDOW_S}s: {windows}; "
                    f"CPU cores {lat['cpu_cores']}",
                    goal if stage == "srguard" else "the broker's floor",
                )
            )
    scale = s["scale_out"]
    rows.append(
        (
            "scale-out, 1 -> 2 processes (at-least-once)",
            f"{scale['ratio']:.2f}x",
            f"{scale['1_process']['rate']:,.0f} -> {scale['2_process']['rate']:,.0f} SR/s; CPU s "
            f"{[round(c, 1) for c in scale['1_process']['cpu_seconds']]} -> "
            f"{[round(c, 1) for c in scale['2_process']['cpu_seconds']]}",
            "2 cores: see README",
        )
    )
    r = results["registration"]
    rows.append(
        (
            f"registration bulk load, {r['load_workers']} workers (the default here)",
            f"{r['load_rate']:,.0f} MPxN/s",
            f"one process: {r['load_rate_one_process']:,.0f} MPxN/s",
            ">= 200,000",
        )
    )
    rows.append(("Redis memory per MPxN at 1M", f"{r['bytes_per_mpxn']:.1f} bytes", "", "<= 64"))
    rows.append(
        (
            "ledger memory per device",
            f"{results['ledger']['bytes_per_device']:.0f} bytes",
            f"{results['ledger']['gib_for_gb']:.1f} GiB for 50M devices",
            "",
        )
    )
    if "duis" in results:
        d = results["duis"]
        rows.append(("DUIS mix (5% in scope) through the judge", f"{d['duis_mix_sr_per_s']:,.0f} SR/s", "no Kafka", ""))
        rows.append(("Redis memory per inventory device at 1M", f"{d['bytes_per_device']:.1f} bytes", "", "<= 64"))
    for name, value in results["decide"].items():
        rows.append((f"decide(), {name}", f"{value:.2f} µs/SR", "warm certificate cache", ""))
    table = "| figure | median | spread / detail | goal |\n|---|---|---|---|\n"
    table += "".join(f"| {a} | {b} | {c} | {d} |\n" for a, b, c, d in rows)
    broker = results["stream"]["broker"]
    return f"Measured {results['date']} on {results['machine']}; broker {broker}, redis-server 7.0.\n\n{table}"


def main() -> None:
    results = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": _machine()}
    results["decide"] = decide.run()
    results["registration"] = registration.run()
    results["ledger"] = ledger.run()
    results["duis"] = duis.run()
    results["stream"] = stream.run()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    (RESULTS / "latest.md").write_text(_markdown(results))
    print(_markdown(results))
    print(f"written: {RESULTS / 'latest.json'}, {RESULTS / 'latest.md'}")


if __name__ == "__main__":
    main()
