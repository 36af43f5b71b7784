"""`make bench`: every benchmark, its figures printed and written to bench/results/latest.{json,md}."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path

from bench import contest, decide, duis, ledger, registration, secure, stream

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


def _side_by_side(s: dict) -> str:
    """Throughput and CPU per contender, mix and guarantee; srguard's goals against each, as measured."""
    rows = [
        "| mix, guarantee | contender | SR/s median (spread) | CPU s per 100k SRs (spread) | SR/s per core | "
        "srguard vs it | outputs |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, by_name in s["throughput"].items():
        ours = by_name["srguard"]
        for name, f in by_name.items():
            rate, cpu = f["sr_per_s"], f["cpu_s_per_100k"]
            versus = (
                f"SR/s x{ours['sr_per_s']['median'] / rate['median']:.2f}, "
                f"CPU/SR x{ours['cpu_s_per_100k']['median'] / cpu['median']:.2f}"
                if name != "srguard"
                else ""
            )
            rows.append(
                f"| {key.replace('_', ' ', 1)} | {name} "
                f"| {rate['median']:,.0f} ({rate['low']:,.0f}-{rate['high']:,.0f}) "
                f"| {cpu['median']:.2f} ({cpu['low']:.2f}-{cpu['high']:.2f}) | {100_000 / cpu['median']:,.0f} "
                f"| {versus} | {f['outputs']} |"
            )
    rows += [
        "",
        "| latency at 5,000 SR/s | contender | p50 / p99 / max ms | CPU cores of the contender | commits |",
        "|---|---|---|---|---|",
    ]
    commits = {c.name: c.commits for c in contest.CONTENDERS}
    for guarantee, by_name in s["latency"].items():
        for name, lat in by_name.items():
            rows.append(
                f"| {guarantee.replace('_', '-')} | {name} | {lat['p50_ms']:.1f} / {lat['p99_ms']:.1f} / "
                f"{lat['max_ms']:.1f} | {lat['cpu_cores'].get('stage', '')} | {commits[name][guarantee]} |"
            )
    return "\n".join(rows) + "\n"


def _markdown(results: dict) -> str:
    s = results["stream"]
    rows = [
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
    return (
        f"Measured {results['date']} on {results['machine']}; broker {broker}, redis-server 7.0.\n\n"
        f"{_side_by_side(s)}\n{table}"
    )


def main() -> None:
    results = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": _machine()}
    results["decide"] = decide.run()
    results["registration"] = registration.run()
    results["ledger"] = ledger.run()
    results["duis"] = duis.run()
    results["secure"] = secure.run()
    try:
        results["stream"] = stream.run()
    except RuntimeError as exc:  # a contender died, stalled or never got ready: its log is named
        raise SystemExit(f"make bench: {exc}") from None
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    (RESULTS / "latest.md").write_text(_markdown(results))
    print(_markdown(results))
    print(f"written: {RESULTS / 'latest.json'}, {RESULTS / 'latest.md'}")


if __name__ == "__main__":
    main()
