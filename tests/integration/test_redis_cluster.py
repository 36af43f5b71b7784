"""The registration store on a real 3-node Redis Cluster."""

from __future__ import annotations

import pytest

from processor.domain.identifiers import Fuel
from processor.domain.model import Party, Registration
from processor.registration.parties import PartyCredential, PartyStore
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
