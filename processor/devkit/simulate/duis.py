"""DUIS traffic: the generator's SRs as DUIS XML Requests in the shape of the DCC's public templates,
with the device inventory that places their targets.

The documents are unsigned: the DCC's signing tool signs only with the ZAZ1 test keys, whose
originators are not the simulated suppliers, and at a JVM start per document. srguard neither
needs nor checks the signature (the DCC's gateway has checked it); tests of byte-identity under a
real signature use the DCC's templates and tool (tests/e2e/test_duis_run.py). Out-of-scope SRs carry
the 8.1.1 template's body under their own ServiceReferenceVariant: only their header is read.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Sequence

from confluent_kafka import Producer

from processor.devkit.simulate.population import Population
from processor.devkit.simulate.traffic import LabelledSR
from processor.domain.decision import SR_UPDATE_SECURITY_CREDENTIALS
from processor.domain.model import CertificateUsage, Device, DeviceStatus, ServiceRequest
from processor.duis.request import BODIES, NAMESPACE, service_reference
from processor.duis.response import duis_datetime
from processor.registration.publish import publish

_ELEMENTS = {
    CertificateUsage.DIGITAL_SIGNING: "DigitalSigningCertificate",
    CertificateUsage.KEY_AGREEMENT: "KeyAgreementCertificate",
    CertificateUsage.KEY_AGREEMENT_TOP_UP: "KeyAgreementTopUpCertificate",
}


def inventory(population: Population, effective_from: int = 0) -> list[Device]:
    """Every meter point's device, commissioned, serving its meter point."""
    return [
        Device(p.device_id, p.device_type, (p.mpxn,), DeviceStatus.COMMISSIONED, effective_from, 1)
        for p in population.meter_points
    ]


def carried_by_duis(population: Population, traffic: Iterable[LabelledSR]) -> Iterator[LabelledSR]:
    """The SRs whose label holds when the DSP's data, not the SR, names the device's type and MPxN: those
    whose own fields agree with the inventory (the rest test what an Avro SR claims)."""
    points = {p.device_id: p for p in population.meter_points}
    for item in traffic:
        point = points[item.sr.target_device_id]
        if item.sr.mpxn == point.mpxn and item.sr.target_device_type is point.device_type:
            yield item


def request_xml(sr: ServiceRequest, oca_der: bytes) -> bytes:
    """The SR as a DUIS 5.x Request; ``oca_der``: the CertificationPathCertificate (the issuing CA)."""
    body_name = BODIES.get(sr.service_reference_variant)
    if body_name is None:
        body = (
            "<sr:CommissionDeviceSynchroniseClock>"
            f"<sr:CurrentDateTime>{duis_datetime(sr.submitted_at)}</sr:CurrentDateTime>"
            "<sr:TolerancePeriod>60</sr:TolerancePeriod></sr:CommissionDeviceSynchroniseClock>"
        )
    else:
        certificates = "".join(
            f"<sr:{_ELEMENTS[c.usage]}>{base64.b64encode(c.der).decode()}</sr:{_ELEMENTS[c.usage]}>"
            for c in sr.certificates
        )
        if sr.service_reference_variant == SR_UPDATE_SECURITY_CREDENTIALS:
            certificates = (
                f"<sr:SupplierOrNetworkOperatorCertificates>{certificates}</sr:SupplierOrNetworkOperatorCertificates>"
            )
        execution = (
            f"<sr:ExecutionDateTime>{duis_datetime(sr.execution_datetime)}</sr:ExecutionDateTime>"
            if sr.execution_datetime is not None
            else ""
        )
        role = f"<sr:RemotePartyRole>{sr.remote_party_role}</sr:RemotePartyRole>" if sr.remote_party_role else ""
        body = (
            f"<sr:{body_name}>{execution}{role}<sr:RemotePartyFloorSeqNumber>0</sr:RemotePartyFloorSeqNumber>"
            f"<sr:ReplacementCertificates>{certificates}</sr:ReplacementCertificates>"
            f"<sr:CertificationPathCertificates><sr:Certificate>{base64.b64encode(oca_der).decode()}"
            "</sr:Certificate></sr:CertificationPathCertificates>"
            f"<sr:ApplyTimeBasedCPVChecks>{str(sr.apply_time_based_cpv_checks).lower()}</sr:ApplyTimeBasedCPVChecks>"
            f"</sr:{body_name}>"
        )
    counter = sr.request_id.rsplit(":", 1)[-1]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sr:Request xmlns:sr="{NAMESPACE}" schemaVersion="5.4"><sr:Header>'
        f"<sr:RequestID>{sr.originator_id}:{sr.target_device_id}:{counter}</sr:RequestID>"
        f"<sr:CommandVariant>{sr.command_variant}</sr:CommandVariant>"
        f"<sr:ServiceReference>{service_reference(sr.service_reference_variant)}</sr:ServiceReference>"
        f"<sr:ServiceReferenceVariant>{sr.service_reference_variant}</sr:ServiceReferenceVariant>"
        f"</sr:Header><sr:Body>{body}</sr:Body></sr:Request>"
    ).encode()


def publish_duis_traffic(producer: Producer, topic: str, traffic: Sequence[LabelledSR], oca_der: bytes) -> int:
    """DUIS SRs keyed by target device id; each record's timestamp is the SR's receipt time (DUIS has no
    field for it), so keep ``submitted_at`` within the topic's retention."""
    records = (
        (item.sr.target_device_id.encode(), request_xml(item.sr, oca_der), item.sr.submitted_at) for item in traffic
    )
    return publish(producer, topic, records)
