"""`srguard run` on DUIS input, end to end: the DCC's templates signed by the DCC's own tool, through the
real broker and Redis, with the device inventory and party directory fed from their topics (issue 18)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from confluent_kafka import Producer
from cryptography.hazmat.primitives.serialization import Encoding

from processor.avro import codec
from processor.domain.identifiers import Fuel
from processor.domain.model import DeviceType, Registration
from processor.registration.publish import publish, publish_devices, publish_parties, publish_registrations
from tests.dcc_packages import duis_template
from tests.duis_world import (
    COMMISSION,
    CREDENTIALS,
    ESME_MPAN,
    GPF_MPRN,
    HANDOVER,
    KRP_FUTURE,
    KRP_IMMEDIATE,
    T0,
    dcc_tool,
    inventory_record,
    registrations,
    signed,
    with_cpv_checks,
    with_zaz1_certificates,
    z1_oca,
)
from tests.e2e.srguard_process import PARTITIONS, SrguardRun, Stack
from tests.kafka_io import read_all
from tests.unit.duis.test_duis_input import no_certificates_krp

pytestmark = pytest.mark.e2e

OTHER_MPAN = "2312345678900"  # registered to LOND, whose certificates no template carries
TEMPLATE_TARGET = "00-DB-12-34-56-78-90-A3"
KRP_TARGET = "00-DB-12-34-56-78-90-A0"


def retarget(document: str | bytes, target: str, template_target: str = TEMPLATE_TARGET) -> bytes:
    text = document.decode() if isinstance(document, bytes) else document
    return text.replace(f":{template_target}:", f":{target}:").encode()


@dataclass(frozen=True)
class Case:
    name: str
    unsigned: bytes
    outcome: str  # "accepted" or the rejection reason
    code: str | None = None


def cases() -> list[Case]:
    handover = duis_template(HANDOVER)
    return [
        Case("registered NO's certificates on an ESME", retarget(handover, "00-DB-12-34-56-78-91-01"), "accepted"),
        Case("another NO's MPAN", retarget(handover, "00-DB-12-34-56-78-91-02"), "foreign_network_operator", "E062106"),
        Case("a GPF serving an MPAN", retarget(handover, "00-DB-12-34-56-78-91-03"), "fuel_mismatch", "E062108"),
        Case(
            "an ESME serving an MPRN (6.15.1)",
            retarget(no_certificates_krp(KRP_IMMEDIATE), "00-DB-12-34-56-78-91-04", KRP_TARGET),
            "fuel_mismatch",
            "E061512",
        ),
        Case(
            "supplier certificates as NO certificates",
            retarget(  # expired in 2025 too: validity is not asked for here, so the role is what fails
                with_cpv_checks(with_zaz1_certificates(handover, "Z1-supplier"), "false"), "00-DB-12-34-56-78-91-01"
            ),
            "not_network_operator_certificate",
            "E062106",
        ),
        Case(
            "the ZAZ1 NO's certificates, expired in 2025",
            retarget(with_zaz1_certificates(handover, "Z1-networkOperator"), "00-DB-12-34-56-78-91-01"),
            "certificate_not_valid_at_sr_time",
            "E062106",
        ),
        Case(
            "the same, validity checks not asked for",
            retarget(
                with_cpv_checks(with_zaz1_certificates(handover, "Z1-networkOperator"), "false"),
                "00-DB-12-34-56-78-91-01",
            ),
            "accepted",
        ),
        Case(
            "a device not in the inventory", retarget(handover, "00-DB-12-34-56-78-91-09"), "unknown_device", "E062108"
        ),
        Case(
            "future-dated 6.15.1, registered NO",
            retarget(no_certificates_krp(KRP_FUTURE), "00-DB-12-34-56-78-91-01", KRP_TARGET),
            "accepted",
        ),
        Case("commissioning 8.1.1 (out of scope)", duis_template(COMMISSION).encode(), "accepted"),
    ]


def duis_stack(kafka_bootstrap: str, redis_url: str, workdir, name: str) -> tuple[Stack, Producer]:
    """A Stack for `srguard run` on DUIS input trusting the DCC's Z1 OCA, and a producer to feed it."""
    oca = workdir / "z1-oca.pem"
    oca.write_bytes(z1_oca().public_bytes(Encoding.PEM))
    duis = {"SRGUARD_TRUST_STORE": str(oca), "SRGUARD_INPUT_FORMAT": "duis"}
    stack = Stack(kafka_bootstrap, redis_url, workdir, name, duis)
    return stack, Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})


def test_signed_dcc_templates_are_judged_on_the_dsps_data(kafka_bootstrap, redis_url, unique, tmp_path):
    stack, producer = duis_stack(kafka_bootstrap, redis_url, tmp_path, f"duis{unique}")
    topics = stack.topics
    held = registrations()
    other = Registration(OTHER_MPAN, Fuel.ELECTRICITY, "LOND", None, T0, 1)
    publish_registrations(producer, topics.registrations, [*held.values(), other])
    publish_parties(producer, topics.parties, CREDENTIALS)
    publish_devices(
        producer,
        topics.devices,
        [
            inventory_record("00-DB-12-34-56-78-91-01", DeviceType.ESME, ESME_MPAN),
            inventory_record("00-DB-12-34-56-78-91-02", DeviceType.ESME, OTHER_MPAN),
            inventory_record("00-DB-12-34-56-78-91-03", DeviceType.GPF, ESME_MPAN),
            inventory_record("00-DB-12-34-56-78-91-04", DeviceType.ESME, GPF_MPRN),
        ],
    )
    with ThreadPoolExecutor(4) as pool:  # the DCC tool is a JVM start each: about a second apiece
        documents = list(pool.map(lambda case: signed(case.unsigned), cases()))
    assert all(dcc_tool("Validate", d).returncode == 0 for d in documents[:1])  # signed as the DCC checks it
    publish(producer, topics.requests, ((b"k", d, 0) for d in documents))
    run = SrguardRun(stack)
    expected = cases()
    rejections = [c for c in expected if c.outcome != "accepted"]
    try:
        run.wait_ready()
        run.wait_consumed(len(documents))
        accepted = read_all(
            kafka_bootstrap,
            topics.accepted,
            len(expected) - len(rejections),
            partitions=PARTITIONS,
            isolation="read_committed",
        )
        rejected = read_all(
            kafka_bootstrap, topics.rejected, len(rejections), partitions=PARTITIONS, isolation="read_committed"
        )
        responses = read_all(
            kafka_bootstrap, topics.responses, len(rejections), partitions=PARTITIONS, isolation="read_committed"
        )
        misses = run.metric("srguard_inventory_misses_total")
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    by_document = {d: c for d, c in zip(documents, expected, strict=True)}
    assert sorted(by_document[m.value()].name for m in accepted) == sorted(
        c.name for c in expected if c.outcome == "accepted"
    )
    first_accepted = next(m.value() for m in accepted if by_document[m.value()].name.startswith("registered"))
    assert dcc_tool("Validate", first_accepted).returncode == 0  # byte-identical: the signature still holds
    found = {}
    for message in rejected:
        record = codec("SrRejection").decode(message.value())
        found[by_document[record["original"]].name] = (record["reason"], record["response_code"])
    assert found == {c.name: (c.outcome, c.code) for c in rejections}
    codes = sorted(re.search(rb"<sr:ResponseCode>(\w+)<", m.value()).group(1).decode() for m in responses)
    assert codes == sorted(c.code for c in rejections) and misses == 1
