"""`srguard run` on DUIS input decides scope by what the XML parser reads (issue 34), end to end on the real
broker and Redis: every DCC request template, signed SRs rewritten into XML-equivalent forms after signing,
and signed placements of another NO's certificates with decoys smuggled in after signing."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from processor.avro import codec
from processor.domain.identifiers import Fuel
from processor.domain.model import DeviceType, Registration
from processor.registration.publish import publish, publish_devices, publish_parties, publish_registrations
from tests.dcc_packages import duis_template
from tests.duis_world import (
    CREDENTIALS,
    ESME_MPAN,
    HANDOVER,
    T0,
    dcc_tool,
    inventory_record,
    registrations,
    signed,
)
from tests.e2e.srguard_process import PARTITIONS, SrguardRun
from tests.e2e.test_duis_run import OTHER_MPAN, duis_stack, retarget
from tests.kafka_io import read_all
from tests.unit.duis.test_duis_scope import (
    DECOY,
    REAL,
    _comments,
    _tag_whitespace,
    template_names,
)

pytestmark = pytest.mark.e2e

OWN_DEVICE = "00-DB-12-34-56-78-91-01"  # serves OTHER_MPAN, registered to ZAZNO: the templates' NO certificates fit
# Rewrites after signing that the DCC's validator still accepts (it refuses CDATA and character references in a
# signed document, so those are checked by the unit property test only).
SIGNATURE_SAFE = (_comments, _tag_whitespace)


def _smuggle(document: bytes) -> list[bytes]:
    """Decoys added to a signed document after signing: the DCC's validator still accepts each."""
    text = document.decode()
    real = REAL.replace("<sr:ServiceReferenceVariant>", "<sr:ServiceReferenceVariant >")
    return [
        text.replace(REAL, f"<!--{DECOY}-->{real}").encode(),
        text.replace(REAL, f"<!--{DECOY}-->{REAL}<!--{DECOY}-->").encode(),
    ]


def test_every_template_and_every_disguise_gets_the_decision_of_the_plain_document(
    kafka_bootstrap, redis_url, unique, tmp_path
):
    stack, producer = duis_stack(kafka_bootstrap, redis_url, tmp_path, f"scope{unique}")
    topics = stack.topics
    held = registrations("LOND")  # the templates' own targets: the ZAZ NO certificates are foreign there
    own = Registration(OTHER_MPAN, Fuel.ELECTRICITY, "ZAZNO", None, T0, 1)
    publish_registrations(producer, topics.registrations, [*held.values(), own])
    publish_parties(producer, topics.parties, CREDENTIALS)
    publish_devices(
        producer,
        topics.devices,
        [
            inventory_record("00-DB-12-34-56-78-90-A3", DeviceType.ESME, ESME_MPAN),
            inventory_record("00-DB-12-34-56-78-90-A0", DeviceType.ESME, ESME_MPAN),
            inventory_record(OWN_DEVICE, DeviceType.ESME, OTHER_MPAN),
        ],
    )
    templates = {name: duis_template(name).encode() for name in template_names()}
    with ThreadPoolExecutor(2) as pool:  # the DCC tool is a JVM start each
        own_signed, foreign_signed = pool.map(signed, [retarget(templates[HANDOVER], OWN_DEVICE), templates[HANDOVER]])
    rng = random.Random(34)
    disguised = [rewrite(own_signed.decode(), rng).encode() for rewrite in SIGNATURE_SAFE for _ in range(2)]
    smuggled = _smuggle(foreign_signed)
    with ThreadPoolExecutor(4) as pool:  # each disguise keeps the signature: the DCC's validator says so
        validated = list(pool.map(lambda d: dcc_tool("Validate", d).returncode, [*disguised, *smuggled]))
    assert validated == [0] * len(validated), validated

    expected_rejected = {templates[HANDOVER], foreign_signed, *smuggled}
    documents = [*templates.values(), own_signed, *disguised, foreign_signed, *smuggled]
    publish(producer, topics.requests, ((b"k", d, 0) for d in documents))
    run = SrguardRun(stack)
    try:
        run.wait_ready()
        run.wait_consumed(len(documents))
        expect_accepted = len(documents) - len(expected_rejected)
        accepted = read_all(
            kafka_bootstrap, topics.accepted, expect_accepted, partitions=PARTITIONS, isolation="read_committed"
        )
        rejected = read_all(
            kafka_bootstrap, topics.rejected, len(expected_rejected), partitions=PARTITIONS, isolation="read_committed"
        )
        dead = read_all(kafka_bootstrap, topics.dlq, 1, timeout=3, partitions=PARTITIONS)
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    assert dead == [], [m.headers() for m in dead]
    reasons = {
        codec("SrRejection").decode(m.value())["original"]: codec("SrRejection").decode(m.value())["reason"]
        for m in rejected
    }
    assert set(reasons) == expected_rejected and set(reasons.values()) == {"foreign_network_operator"}
    passed = sorted(m.value() for m in accepted)
    assert passed == sorted(d for d in documents if d not in expected_rejected)  # byte-identical, none lost
    with ThreadPoolExecutor(4) as pool:  # what srguard forwarded is still what the DCC signed
        assert set(pool.map(lambda d: dcc_tool("Validate", d).returncode, [own_signed, *disguised])) == {0}
