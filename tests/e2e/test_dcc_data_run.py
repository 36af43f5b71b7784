"""`srguard run` with parties, devices and SRs shaped as the DCC's own data (issue 34), on the real broker and
Redis: a dual-fuel supplier, an NO holding its entity as ED and GT, an import/export ESME, a cancellation,
and an Avro SR whose own role the party directory contradicts."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from processor.avro import codec
from processor.devkit.simulate.traffic import LabelledSR
from processor.domain.decision import Branch, Reason
from processor.domain.identifiers import Fuel
from processor.domain.model import Device, DeviceStatus, DeviceType, Party, Registration, UserRole
from processor.registration.publish import publish, publish_devices, publish_parties, publish_registrations
from tests.dcc_packages import duis_template
from tests.duis_world import (
    ESME_MPAN,
    GPF_MPRN,
    HANDOVER,
    KRP_CANCELLATION,
    KRP_FUTURE,
    NO_BY_NO,
    NO_ENTITY,
    OTHER_NO_ENTITY,
    SUPPLIER,
    T0,
)
from tests.e2e.srguard_process import PARTITIONS, SrguardRun, make_world
from tests.e2e.test_duis_run import KRP_TARGET, OTHER_MPAN, duis_stack, retarget
from tests.kafka_io import read_all
from tests.unit.duis.test_duis_input import no_certificates_krp

pytestmark = pytest.mark.e2e

EXPORT_MPAN = OTHER_MPAN  # registered to LOND, whose certificates no template carries
PARTIES = [
    (SUPPLIER, Party("ZAZSUP", "IS")),
    (SUPPLIER, Party("ZAZSUP", "GS")),  # the DCC's test supplier originates electricity and gas SRs
    (NO_ENTITY, Party("ZAZNO", "ED")),
    (NO_ENTITY, Party("ZAZNO", "GT")),  # an NO that is an IDNO and an iGT: one owner
    (OTHER_NO_ENTITY, Party("LOND", "ED")),
]


def _device(device_id: str, kind: DeviceType, *mpxns: str, import_mpxn: str | None = None) -> Device:
    return Device(device_id, kind, mpxns, DeviceStatus.COMMISSIONED, T0, 1, import_mpxn)


def test_the_dccs_shapes_of_parties_devices_and_cancellations(kafka_bootstrap, redis_url, unique, tmp_path):
    stack, producer = duis_stack(kafka_bootstrap, redis_url, tmp_path, f"dcc{unique}")
    publish_registrations(
        producer,
        stack.topics.registrations,
        [
            Registration(ESME_MPAN, Fuel.ELECTRICITY, "ZAZNO", "ZAZSUP", T0, 1),
            Registration(GPF_MPRN, Fuel.GAS, "ZAZNO", "ZAZSUP", T0, 2),
            Registration(EXPORT_MPAN, Fuel.ELECTRICITY, "LOND", "ZAZSUP", T0, 3),
        ],
    )
    publish_parties(producer, stack.topics.parties, PARTIES)
    publish_devices(
        producer,
        stack.topics.devices,
        [
            _device("00-DB-12-34-56-78-91-01", DeviceType.ESME, EXPORT_MPAN, ESME_MPAN, import_mpxn=ESME_MPAN),
            _device("00-DB-12-34-56-78-91-02", DeviceType.ESME, ESME_MPAN, EXPORT_MPAN),  # no import named
            _device("00-DB-12-34-56-78-91-03", DeviceType.GPF, GPF_MPRN),
            _device("00-DB-12-34-56-78-90-A0", DeviceType.ESME, ESME_MPAN),
            _device("00-DB-12-34-56-78-91-05", DeviceType.ESME, EXPORT_MPAN),
        ],
    )
    handover = duis_template(HANDOVER)
    cases = {  # document -> expected (topic, reason)
        retarget(handover, "00-DB-12-34-56-78-91-01"): ("accepted", None),  # judged on its import MPAN
        retarget(handover, "00-DB-12-34-56-78-91-02"): ("rejected", "inventory_names_no_import_mpxn"),
        retarget(handover, "00-DB-12-34-56-78-91-03"): ("accepted", None),  # the dual-fuel supplier as GS
        duis_template(NO_BY_NO).encode(): ("accepted", None),  # the ED+GT NO's own 6.15.1: exempt
        retarget(no_certificates_krp(KRP_CANCELLATION), "00-DB-12-34-56-78-91-05", KRP_TARGET): ("accepted", None),
        retarget(no_certificates_krp(KRP_FUTURE), "00-DB-12-34-56-78-91-05", KRP_TARGET): (
            "rejected",
            "foreign_network_operator",
        ),
    }
    publish(producer, stack.topics.requests, ((b"k", d, 0) for d in cases))
    run = SrguardRun(stack)
    rejected_count = sum(1 for topic, _ in cases.values() if topic == "rejected")
    try:
        run.wait_ready()
        run.wait_consumed(len(cases))
        accepted = read_all(
            kafka_bootstrap,
            stack.topics.accepted,
            len(cases) - rejected_count,
            partitions=PARTITIONS,
            isolation="read_committed",
        )
        rejected = read_all(
            kafka_bootstrap, stack.topics.rejected, rejected_count, partitions=PARTITIONS, isolation="read_committed"
        )
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    found = {m.value(): ("accepted", None) for m in accepted}
    for message in rejected:
        record = codec("SrRejection").decode(message.value())
        found[record["original"]] = ("rejected", record["reason"])
    assert found == cases


def test_an_avro_role_the_directory_contradicts_is_rejected(kafka_bootstrap, redis_url, unique, tmp_path):
    world = make_world(kafka_bootstrap, redis_url, unique, tmp_path, meter_points=200)
    point = next(p for p in world.population.meter_points if p.device_type is DeviceType.ESME)
    registered = point.registration_at(int(time.time() * 1000)).network_operator_id
    foreign = next(o for o in world.population.operators_of(Fuel.ELECTRICITY) if o.party_id != registered)
    now = int(time.time() * 1000)
    honest = world.handover(point, foreign.party_id, now, 1)  # BGAS (IS and GS in the directory) says IS
    claims_no = replace(
        honest, request_id=honest.request_id[:-1] + "2", service_reference_variant="6.15.1", user_role=UserRole.ED
    )  # the same supplier claiming to be an NO: would be exempt
    world.publish(
        [
            LabelledSR(honest, Branch.FOREIGN_OWNER, Reason.FOREIGN_NETWORK_OPERATOR),
            LabelledSR(claims_no, Branch.SUBJECT_FAULT, Reason.REQUEST_CONTRADICTS_PARTY_DIRECTORY),
        ]
    )
    run = SrguardRun(world)
    try:
        run.wait_ready()
        run.wait_consumed(2)
        rejected = world.outputs(world.topics.rejected, 2)
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    reasons = {
        codec("SrRejection").decode(m.value())["request_id"]: codec("SrRejection").decode(m.value()) for m in rejected
    }
    assert reasons[honest.request_id]["reason"] == "foreign_network_operator"
    contradicted = reasons[claims_no.request_id]
    assert (contradicted["reason"], contradicted["response_code"]) == ("request_contradicts_party_directory", "E061512")
    assert "names role ED" in contradicted["detail"]
