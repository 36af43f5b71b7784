"""The reference stores on a real 3-node Redis Cluster."""

from __future__ import annotations

import pytest

from processor.domain.identifiers import Fuel
from processor.domain.model import Party, Registration
from processor.names import REFERENCE_WHOLE
from processor.registration.devices import DeviceInventoryStore, device
from processor.registration.lookup import RedisReference
from processor.registration.parties import DirectoryCache, PartyCredential, PartyStore
from processor.registration.store import RegistrationStore, Withdrawal
from tests.redis_cluster import cluster_client, redis_cluster

pytestmark = pytest.mark.integration
T0 = 1_600_000_000_000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as url:
        client = cluster_client(url)
        yield client
        client.close()


def test_store_spreads_over_the_nodes_and_answers_batches(cluster):
    store = RegistrationStore(cluster, "cl", buckets=256)
    assert store.is_cluster
    mpxns = [f"{1300000000000 + i * 101}" for i in range(2000)]
    stats = store.apply(
        [Registration(m, Fuel.ELECTRICITY, "MANW", "BGAS", T0, 1) for m in mpxns], offsets={"regs:0": 2000}
    )
    assert stats.counts["inserted"] == 2000
    store.apply([Registration(m, Fuel.ELECTRICITY, "SPOW", "BGAS", T0 + 10, 2) for m in mpxns[:500]])
    store.apply([Withdrawal(mpxns[-1])])
    found = store.lookup_many([(m, T0 + 10) for m in mpxns])
    assert [r.network_operator_id for r in found[:500]] == ["SPOW"] * 500
    assert [r.network_operator_id for r in found[500:-1]] == ["MANW"] * 1499
    assert found[-1] is None
    assert store.stored_offsets() == {"regs:0": 2000}
    nodes_with_keys = [n for n in cluster.get_primaries() if cluster.dbsize(target_nodes=n) > 0]
    assert len(nodes_with_keys) == 3, "buckets did not spread over every node"


def test_party_store_on_a_cluster(cluster):
    parties = PartyStore(cluster, "cl")
    assert parties.apply([PartyCredential("90B3D51F30020000", Party("MANW", "ED"))]) == 1
    assert parties.load().owner("90-B3-D5-1F-30-02-00-00", T0).party_id == "MANW"


def test_a_batch_reads_its_reference_data_across_the_nodes(cluster):
    registrations, devices, parties = (
        RegistrationStore(cluster, "rl", 256),
        DeviceInventoryStore(cluster, "rl"),
        PartyStore(cluster, "rl"),
    )
    ids = [f"00-DB-12-34-56-78-{i // 256:02X}-{i % 256:02X}" for i in range(300)]
    mpxns = [f"{1300000000000 + i * 101}" for i in range(300)]
    registrations.apply([Registration(m, Fuel.ELECTRICITY, "MANW", "BGAS", T0, 1) for m in mpxns])
    devices.apply([device(d, "ESME", [m], "Commissioned", T0, 1) for d, m in zip(ids, mpxns, strict=True)])
    parties.apply([PartyCredential("90B3D51F30020001", Party("SPOW", "ED"))])
    cluster.set(registrations.keys.reference_epoch, REFERENCE_WHOLE + b":test")  # what a caught-up feed says
    batch = RedisReference(registrations, devices, DirectoryCache(parties))(
        [(d, T0 + 1) for d in ids], set(mpxns[:150])
    )
    assert [d.mpxns for d in batch.devices] == [(m,) for m in mpxns]
    found = batch.registrations([(m, T0 + 1) for m in mpxns])  # half named with the devices, half after
    assert [r.network_operator_id for r in found] == ["MANW"] * 300
    assert batch.directory.owner("90-B3-D5-1F-30-02-00-01", T0).party_id == "SPOW"
