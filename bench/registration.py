"""Registration bulk-load rate (the real CSV loader) and Redis bytes per MPxN at 1M meter points."""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import redis

from processor.devkit.stack import EmbeddedStack
from processor.domain.identifiers import mpan_check_digit, mprn_check_digits
from processor.registration.loader import load_registrations
from processor.registration.store import RegistrationStore, tune_listpacks

COUNT = 1_000_000
BUCKETS = 1 << 14  # ~61 MPxNs per bucket at 1M: the sizing rule (MPxNs / 100, power of two)
REPEATS = 3


def _write_refresh_file(path: Path, count: int) -> None:
    rng = random.Random(7)
    with path.open("w") as out:
        out.write("mpxn,network_operator_id,supplier_id,effective_from,sequence\n")
        for i in range(count):
            if i % 2:
                first12 = f"{rng.randrange(10, 24):02d}{rng.randrange(10**10):010d}"
                mpxn, operator = first12 + str(mpan_check_digit(first12)), "LOND"
            else:
                body = f"{rng.randrange(10**7, 10**8)}"
                mpxn, operator = body + mprn_check_digits(body), "CADT"
            out.write(f"{mpxn},{operator},BGAS,{1_400_000_000_000 + i},1\n")


def run(count: int = COUNT) -> dict[str, object]:
    """Load rates with one process and with the default worker count of `srguard registrations load`."""
    workers_default = min(4, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStack(kafka=False) as stack:
        path = Path(tmp) / "refresh.csv"
        _write_refresh_file(path, count)
        client = redis.Redis.from_url(stack.redis_url)
        tune_listpacks(client)
        rates: dict[int, list[float]] = {1: [], workers_default: []}
        sizes = []
        for repeat in range(REPEATS):
            for workers in rates:
                client.flushall()
                before = client.info("memory")["used_memory"]
                store = RegistrationStore(client, f"bench{repeat}", buckets=BUCKETS)
                started = time.perf_counter()
                summary = load_registrations(path, store, workers=workers)
                rates[workers].append(summary.lines / (time.perf_counter() - started))
                sizes.append((client.info("memory")["used_memory"] - before) / summary.counts["inserted"])
        encoding = client.object("encoding", store.key_of("1200000000020")) or b"(empty bucket)"
    result: dict[str, object] = {
        "load_rate": statistics.median(rates[workers_default]),
        "load_workers": workers_default,
        "load_rate_one_process": statistics.median(rates[1]),
        "bytes_per_mpxn": statistics.median(sizes),
    }
    for workers, measured in rates.items():
        print(
            f"registration bulk load, {workers} worker(s): median {statistics.median(measured):,.0f} MPxN/s over "
            f"{REPEATS} loads of {count:,} (spread {min(measured):,.0f}-{max(measured):,.0f}); goal >= 200,000"
        )
    print(
        f"redis memory: median {result['bytes_per_mpxn']:.1f} bytes per MPxN at {count:,} with {BUCKETS} buckets "
        f"(spread {min(sizes):.1f}-{max(sizes):.1f}); bucket encoding {encoding.decode()}; goal <= 64"
    )
    return result


if __name__ == "__main__":
    run()
