"""Registration bulk-load rate (the real CSV loader) and Redis bytes per MPxN at 1M meter points."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

import redis

from processor.domain.identifiers import mpan_check_digit, mprn_check_digits
from processor.registration.loader import load_registrations
from processor.registration.store import RegistrationStore, tune_listpacks
from processor.stack import EmbeddedStack

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


def run(count: int = COUNT) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStack(kafka=False) as stack:
        path = Path(tmp) / "refresh.csv"
        _write_refresh_file(path, count)
        client = redis.Redis.from_url(stack.redis_url)
        tune_listpacks(client)
        rates, sizes = [], []
        for repeat in range(REPEATS):
            client.flushall()
            before = client.info("memory")["used_memory"]
            store = RegistrationStore(client, f"bench{repeat}", buckets=BUCKETS)
            started = time.perf_counter()
            summary = load_registrations(path, store)
            rates.append(summary.lines / (time.perf_counter() - started))
            sizes.append((client.info("memory")["used_memory"] - before) / summary.counts["inserted"])
        encoding = client.object("encoding", store.key_of("1200000000020")) or b"(empty bucket)"
    result = {"load_rate": statistics.median(rates), "bytes_per_mpxn": statistics.median(sizes)}
    print(
        f"registration bulk load: median {result['load_rate']:,.0f} MPxN/s over {REPEATS} loads of {count:,} "
        f"(spread {min(rates):,.0f}-{max(rates):,.0f}); goal >= 200,000"
    )
    print(
        f"redis memory: median {result['bytes_per_mpxn']:.1f} bytes per MPxN at {count:,} with {BUCKETS} buckets "
        f"(spread {min(sizes):.1f}-{max(sizes):.1f}); bucket encoding {encoding.decode()}; goal <= 64"
    )
    return result


if __name__ == "__main__":
    run()
