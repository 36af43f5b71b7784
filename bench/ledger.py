"""Redis memory per device in the NO-cell ledger (commissioning + one placement each), extrapolated to GB scale."""

from __future__ import annotations

import redis

from processor.devkit.stack import EmbeddedStack
from processor.ledger.model import Kind, LedgerEvent
from processor.ledger.store import LedgerStore
from processor.registration.store import tune_listpacks

DEVICES = 200_000
GB_DEVICES = 50_000_000


def run(devices: int = DEVICES) -> dict[str, float]:
    with EmbeddedStack(kafka=False) as stack:
        client = redis.Redis.from_url(stack.redis_url)
        tune_listpacks(client)
        before = client.info("memory")["used_memory"]
        store = LedgerStore(client, "bench", buckets=2048)  # ~100 devices per bucket
        supplier = "90-B3-D5-1F-30-10-00-2A"
        for start in range(0, devices, 10_000):
            events = {}
            for n in range(start, start + 10_000):
                device = f"00-12-4B-00-{n >> 24 & 255:02X}-{n >> 16 & 255:02X}-{n >> 8 & 255:02X}-{n & 255:02X}"
                mpxn = f"{1200000000000 + n * 7}"
                events[device] = [
                    LedgerEvent(
                        1_560_000_000_000 + n, f"{supplier}:{device}:{n}", Kind.COMMISSIONED, "BGAS", "", False, mpxn
                    ),
                    LedgerEvent(
                        1_570_000_000_000 + n, f"{supplier}:{device}:{n + 1}", Kind.PLACED, "BGAS", "LOND", True, mpxn
                    ),
                ]
            store.apply(events, {})
        per_device = (client.info("memory")["used_memory"] - before) / devices
    print(
        f"ledger memory: {per_device:.0f} bytes per device (commissioning + 1 placement, {devices:,} devices, "
        f"~100 per bucket); {per_device * GB_DEVICES / 2**30:.1f} GiB for {GB_DEVICES:,} devices"
    )
    return {"bytes_per_device": per_device, "gib_for_gb": per_device * GB_DEVICES / 2**30}


if __name__ == "__main__":
    run()
