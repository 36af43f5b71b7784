"""The reference feed against the real broker and Redis."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from processor.domain.identifiers import Fuel
from processor.domain.model import Device, DeviceStatus, DeviceType, Party, Registration
from processor.kafka.topics import REFERENCE_CONFIG
from processor.registration.devices import DeviceInventoryStore
from processor.registration.feed import ReferenceFeed
from processor.registration.parties import DirectoryCache, PartyStore
from processor.registration.publish import publish, publish_devices, publish_parties, publish_registrations
from processor.registration.store import RegistrationStore
from tests.kafka_io import create_topics

pytestmark = pytest.mark.integration
DAY = 86_400_000
T0 = 1_600_000_000_000


@pytest.fixture
def world(kafka_bootstrap, redis_url, unique):
    regs, parties, devices = f"regs-{unique}", f"parties-{unique}", f"devices-{unique}"
    create_topics(kafka_bootstrap, regs, partitions=3, config=REFERENCE_CONFIG)
    create_topics(kafka_bootstrap, parties, partitions=1, config=REFERENCE_CONFIG)
    create_topics(kafka_bootstrap, devices, partitions=2, config=REFERENCE_CONFIG)
    client = redis.Redis.from_url(redis_url)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})

    def feed(**kwargs) -> ReferenceFeed:
        return ReferenceFeed(
            {"bootstrap.servers": kafka_bootstrap},
            regs,
            parties,
            RegistrationStore(client, f"f{unique}", buckets=64),
            PartyStore(client, f"f{unique}"),
            devices,
            DeviceInventoryStore(client, f"f{unique}", buckets=64),
            **{"batch_size": 2000, **kwargs},
        )

    yield {"regs": regs, "parties": parties, "devices": devices, "producer": producer, "feed": feed, "client": client}
    client.close()


def records(n, start=0, no="LOND"):
    return [
        Registration(f"{1200000000000 + i}", Fuel.ELECTRICITY, no, "BGAS", T0 + i, i + 1)
        for i in range(start, start + n)
    ]


def test_feed_catches_up_then_serves_lookups_and_parties(world):
    publish_registrations(world["producer"], world["regs"], records(200))
    publish_parties(world["producer"], world["parties"], [("90-B3-D5-1F-30-02-00-00", Party("LOND", "ED"))])
    feed = world["feed"]()
    assert feed.wait_ready(60), f"not ready: waiting for {feed.status.waiting_for}"
    assert feed.status.applied == 201 and feed.status.lag_records == 0
    store = feed.registrations
    assert store.lookup("1200000000199", T0 + 199).network_operator_id == "LOND"
    assert DirectoryCache(feed.parties).refresh().owner("90-B3-D5-1F-30-02-00-00", T0).party_id == "LOND"
    feed.close()


def test_readiness_flips_only_when_caught_up(world):
    publish_registrations(world["producer"], world["regs"], records(300))
    publish_parties(world["producer"], world["parties"], [])
    feed = world["feed"](batch_size=25)
    feed.start()
    observed = []
    while not feed.status.ready:
        feed.poll(1.0)
        observed.append((feed.status.ready, feed.status.applied))
    # Each observation is one snapshot taken after a poll. Readiness comes from the end-of-partition
    # events, which arrive with or after the last records: never before them, possibly a poll later.
    assert observed[-1] == (True, 300), observed[-3:]
    assert all(applied == 300 for ready, applied in observed if ready), "ready before every record was applied"
    assert any(not ready for ready, _ in observed), "never observed a not-ready state"
    feed.close()


def test_restart_mid_topic_resumes_without_loss_or_double_apply(world):
    publish_registrations(world["producer"], world["regs"], records(150))
    first = world["feed"]()
    assert first.wait_ready(60)
    first.close()
    stored = first.registrations.stored_offsets()
    assert sum(v for k, v in stored.items() if k.startswith(world["regs"])) == 150
    publish_registrations(world["producer"], world["regs"], records(100, start=150, no="SEEB"))
    second = world["feed"]()
    assert second.wait_ready(60)
    assert second.status.applied == 100, "the restarted feed re-read records it had applied"
    assert second.registrations.lookup("1200000000249", T0 + 249).network_operator_id == "SEEB"
    assert second.registrations.lookup("1200000000000", T0).network_operator_id == "LOND"
    second.close()


def test_undecodable_records_are_kept_and_the_feed_goes_on(world):
    publish(world["producer"], world["regs"], [(b"1200000000001", b"\x00garbage", 0), (b"k", b"\xff" * 3, 0)])
    publish_registrations(world["producer"], world["regs"], records(5))
    feed = world["feed"]()
    assert feed.wait_ready(60)
    assert (feed.status.applied, feed.status.rejected) == (5, 2)
    kept = world["client"].lrange(feed.registrations.keys.feed_rejected, 0, -1)
    assert len(kept) == 2 and b"garbage".hex().encode() in b"".join(kept)
    feed.close()


def test_tombstone_withdraws_the_meter_point(world):
    publish_registrations(world["producer"], world["regs"], records(3))
    publish(world["producer"], world["regs"], [(b"1200000000001", None, 0)])
    feed = world["feed"]()
    assert feed.wait_ready(60)
    assert feed.registrations.history("1200000000001") == []
    assert feed.registrations.lookup("1200000000002", T0 + 2) is not None
    feed.close()


ENTITY = "90-B3-D5-1F-30-02-00-00"


def test_a_directory_record_the_store_cannot_take_is_set_aside_and_later_changes_apply(world):
    # "not-an-eui" decodes as Avro but no store can key it: it used to kill the feed thread silently.
    publish_parties(world["producer"], world["parties"], [("not-an-eui", Party("LOND", "ED"))])
    publish_parties(world["producer"], world["parties"], [(ENTITY, Party("LOND", "ED", T0, T0 + DAY))])
    publish_registrations(world["producer"], world["regs"], records(3))
    feed = world["feed"]()
    assert feed.wait_ready(60)
    assert (feed.status.applied, feed.status.rejected, feed.status.failed) == (4, 1, None)
    kept = world["client"].lrange(feed.registrations.keys.feed_rejected, 0, -1)
    assert len(kept) == 1 and b"not-an-eui" in b"".join(kept) and world["parties"].encode() in kept[0]
    # a change of Network Operator after the poison record still lands
    publish_parties(world["producer"], world["parties"], [(ENTITY, Party("SEEB", "ED", T0 + DAY, None))])
    while feed.poll(1.0) == 0:
        pass
    assert DirectoryCache(feed.parties).refresh().owner(ENTITY, T0 + 2 * DAY).party_id == "SEEB"
    feed.close()


def test_a_record_the_store_refuses_costs_only_itself(world):
    class Refusing(PartyStore):
        def apply(self, changes, offsets=None):
            changes = list(changes)
            if any(getattr(c, "party", None) and c.party.party_id == "BAD" for c in changes):
                raise TypeError("this store cannot take BAD")
            return super().apply(changes, offsets)

    publish_parties(
        world["producer"],
        world["parties"],
        [(ENTITY, Party("LOND", "ED")), ("90-B3-D5-1F-30-02-00-01", Party("BAD", "ED"))],
    )
    publish_parties(world["producer"], world["parties"], [("90-B3-D5-1F-30-02-00-02", Party("SEEB", "ED"))])
    feed = world["feed"]()
    feed.parties = Refusing(world["client"], feed.parties.entities_key.split(":")[0].strip("{"))
    assert feed.wait_ready(60)
    assert (feed.status.applied, feed.status.rejected) == (2, 1)
    directory = DirectoryCache(feed.parties).refresh()
    assert directory.owner(ENTITY, T0).party_id == "LOND" and directory.owner("90-B3-D5-1F-30-02-00-02", T0)
    assert feed.parties.stored_offsets() == {f"{world['parties']}:0": 3}  # the offsets moved past all three
    feed.close()


def test_a_credential_overlapping_another_partys_is_set_aside_with_a_clear_reason(world):
    publish_parties(world["producer"], world["parties"], [(ENTITY, Party("LOND", "ED", None, T0 + DAY))])
    publish_parties(world["producer"], world["parties"], [(ENTITY, Party("NEWCO", "ED", T0, None))])  # overlaps
    publish_parties(world["producer"], world["parties"], [(ENTITY, Party("NEWCO", "ED", T0 + DAY, None))])
    feed = world["feed"]()
    assert feed.wait_ready(60)
    assert (feed.status.applied, feed.status.rejected) == (2, 1)
    kept = world["client"].lrange(feed.registrations.keys.feed_rejected, 0, -1)
    assert b"overlaps LOND" in kept[0] and b"end the earlier holding first" in kept[0]
    directory = DirectoryCache(feed.parties).refresh()
    assert directory.owner(ENTITY, T0).party_id == "LOND" and directory.owner(ENTITY, T0 + DAY).party_id == "NEWCO"
    feed.close()


def test_the_feed_keeps_the_device_inventory_effective_dated_and_sets_bad_records_aside(world):
    esme = "00-12-4B-00-00-00-00-01"
    first = Device(esme, DeviceType.ESME, ("1200000000020",), DeviceStatus.COMMISSIONED, T0, 1)
    moved = Device(esme, DeviceType.ESME, ("2312345678900", "1200000000020"), DeviceStatus.COMMISSIONED, T0 + 1000, 2)
    gone = "00-12-4B-00-00-00-00-02"
    publish_devices(world["producer"], world["devices"], [moved, first, moved])  # order and repeats do not matter
    publish_devices(world["producer"], world["devices"], [replace(first, device_id=gone)])
    publish(world["producer"], world["devices"], [(gone.encode(), None, 0), (b"junk", b"\x00not avro", 0)])
    feed = world["feed"]()
    try:
        assert feed.wait_ready(60)
        store = feed.devices
        assert store.lookup_many([(esme, T0 - 1), (esme, T0 + 999), (esme, T0 + 1000), (gone, T0 + 5)]) == [
            None,
            first,
            moved,
            None,
        ]
        assert feed.status.rejected == 1 and store.history("00124b0000000001") == [first, moved]
        # an SR's target id in another common form finds the device; one that is no EUI-64 finds nothing
        assert store.lookup_many([("00124b0000000001", T0), ("not-an-eui", T0)]) == [first, None]
    finally:
        feed.close()


def _lose_everything(client: redis.Redis, unique: str) -> None:
    """What FLUSHALL does to this test's keys (the shared test Redis holds other tests' data too)."""
    keys = [k for pattern in (f"f{unique}:*", f"{{f{unique}:*") for k in client.scan_iter(match=pattern, count=1000)]
    client.delete(*keys)


def test_redis_losing_its_data_is_noticed_and_rebuilt_from_the_topics(world, unique):
    publish_registrations(world["producer"], world["regs"], records(300))
    publish_parties(world["producer"], world["parties"], [("90-B3-D5-1F-30-02-00-00", Party("LOND", "ED"))])
    feed = world["feed"]()
    epoch_key = feed.registrations.keys.reference_epoch
    assert world["client"].get(epoch_key) is None or feed.status.ready is False
    feed.start()
    assert world["client"].get(epoch_key) == b"building", "not whole before it has caught up"
    assert feed.wait_ready(60)
    first = world["client"].get(epoch_key)
    assert first.startswith(b"whole:")
    _lose_everything(world["client"], unique)
    assert feed.registrations.lookup("1200000000199", T0 + 199) is None
    feed.poll(0.1)  # notices: not ready, rebuilding from the beginning
    assert not feed.status.ready and feed.status.rebuilds == 1
    assert world["client"].get(epoch_key) == b"building"
    assert feed.wait_ready(60), f"not rebuilt: waiting for {feed.status.waiting_for}"
    rebuilt = world["client"].get(epoch_key)
    assert rebuilt.startswith(b"whole:") and rebuilt != first
    assert feed.registrations.lookup("1200000000199", T0 + 199).network_operator_id == "LOND"
    assert DirectoryCache(feed.parties).refresh().owner("90-B3-D5-1F-30-02-00-00", T0).party_id == "LOND"
    feed.close()


def _count(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"count-{topic}"})
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    consumer.assign([TopicPartition(topic, 0, low)])
    seen = 0
    while seen < high - low:
        batch = [m for m in consumer.consume(500, 1.0) if not m.error()]
        if not batch:
            break
        seen += len(batch)
    consumer.close()
    return seen


def test_the_reference_topics_keep_every_change_where_compaction_would_drop_some(world, kafka_bootstrap, unique):
    # Changes of NO whose older effective date arrives after the newer one: what an as-of look-up needs both of.
    late = [Registration(f"{1200000000000 + i}", Fuel.ELECTRICITY, "SEEB", "BGAS", T0 + 10 * DAY, 2) for i in range(40)]
    early = [Registration(r.mpxn, Fuel.ELECTRICITY, "LOND", "BGAS", T0 + 5 * DAY, 3) for r in late]
    eager = {"segment.ms": "100", "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "100"}
    control = f"compacted-{unique}"
    create_topics(kafka_bootstrap, control, config={"cleanup.policy": "compact", **eager})
    kept = f"kept-{unique}"
    create_topics(kafka_bootstrap, kept, config={**REFERENCE_CONFIG, **eager})
    for topic in (control, kept):  # three waves: rolled segments the cleaner may take, then an active one
        for wave in (late, early):
            publish_registrations(world["producer"], topic, wave)
            time.sleep(0.3)
        publish_registrations(world["producer"], topic, records(1, start=999))
    deadline = time.monotonic() + 60
    while _count(kafka_bootstrap, control) == 81 and time.monotonic() < deadline:
        time.sleep(2)
    assert _count(kafka_bootstrap, control) < 81, "the broker never compacted the control topic"
    assert _count(kafka_bootstrap, kept) == 81, "a reference topic lost records"
    publish_parties(world["producer"], world["parties"], [])
    feed = ReferenceFeed(
        {"bootstrap.servers": kafka_bootstrap},
        kept,
        world["parties"],
        RegistrationStore(world["client"], f"k{unique}", buckets=64),
        PartyStore(world["client"], f"k{unique}"),
        world["devices"],
        DeviceInventoryStore(world["client"], f"k{unique}", buckets=64),
        batch_size=2000,
    )
    assert feed.wait_ready(60)
    for r in late:  # rebuilt from the topic: the same answers a live feed gave, at every time
        assert feed.registrations.lookup(r.mpxn, T0 + 4 * DAY) is None
        assert feed.registrations.lookup(r.mpxn, T0 + 6 * DAY).network_operator_id == "LOND"
        assert feed.registrations.lookup(r.mpxn, T0 + 11 * DAY).network_operator_id == "SEEB"
    feed.close()
