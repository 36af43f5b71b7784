"""Redis memory per device in the NO-cell ledger at 1 million devices, extrapolated to GB scale.

Each device is commissioned and has both NO cells placed by one confirmed SR (the usual settled state);
one in ten has its key-agreement cell replaced by a later SR (two placements), one in twenty has a
placement still pending (its previous holding kept for an undo). Buckets are sized as README says:
about devices / 100, a power of two.
"""

from __future__ import annotations

import time

import redis

from processor.devkit.stack import EmbeddedStack
from processor.ledger.build import apply_changes
from processor.ledger.events import Change
from processor.ledger.model import Cell, Placement, Status, commission, place
from processor.ledger.store import LedgerStore
from processor.registration.store import tune_listpacks

DEVICES = 1_000_000
GB_DEVICES = 50_000_000
CHUNK = 10_000
SUPPLIERS = [f"90-B3-D5-1F-30-10-00-{n:02X}" for n in range(40)]
OPERATORS = [f"90-B3-D5-1F-30-20-00-{n:02X}" for n in range(30)]
DAY = 86_400_000


def _changes(n: int) -> Change:
    by, operator = SUPPLIERS[n % len(SUPPLIERS)], OPERATORS[n % len(OPERATORS)]
    t = 1_560_000_000_000 + n * 1000
    pending = n % 20 == 0

    def change(cells):  # type: ignore[no-untyped-def]
        cells = commission(cells, t, by)
        cells = place(cells, {Cell.DIGITAL_SIGNING: operator, Cell.KEY_AGREEMENT: operator}, _sr(t + DAY, by, n))
        if n % 10 == 1:
            cells = place(cells, {Cell.KEY_AGREEMENT: OPERATORS[0]}, _sr(t + 2 * DAY, by, n + 1))
        if pending:
            cells = place(cells, {Cell.DIGITAL_SIGNING: OPERATORS[1]}, _sr(t + 3 * DAY, by, n + 2, Status.PENDING))
        return cells

    return change


def _sr(at: int, by: str, counter: int, status: Status = Status.CONFIRMED) -> Placement:
    return Placement(at, by, counter, status)


def run(devices: int = DEVICES) -> dict[str, float]:
    buckets = 1 << max(0, (devices // 100).bit_length() - 1)
    with EmbeddedStack(kafka=False) as stack:
        client = redis.Redis.from_url(stack.redis_url)
        tune_listpacks(client)
        before = client.info("memory")["used_memory"]
        store = LedgerStore(client, "bench", buckets=buckets)
        started = time.perf_counter()
        for start in range(0, devices, CHUNK):
            changes = [(f"00-12-4B-00-{n >> 16 & 255:02X}-{n >> 8 & 255:02X}-{n & 255:02X}-01", _changes(n))
                       for n in range(start, min(start + CHUNK, devices))]  # fmt: skip
            apply_changes(store, changes, {})
        seconds = time.perf_counter() - started
        per_device = (client.info("memory")["used_memory"] - before) / devices
    print(
        f"ledger memory: {per_device:.1f} bytes per device ({devices:,} devices, {buckets:,} buckets; commissioned, "
        f"both cells placed, 10% with a second placement, 5% pending); {per_device * GB_DEVICES / 2**30:.2f} GiB "
        f"for {GB_DEVICES:,} devices; written at {devices / seconds:,.0f} devices/s"
    )
    return {
        "bytes_per_device": per_device,
        "gib_for_gb": per_device * GB_DEVICES / 2**30,
        "devices_per_s": devices / seconds,
    }


if __name__ == "__main__":
    run()
