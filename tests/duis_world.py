"""The DCC's public DUIS material as a small world to judge it in: templates, the DCC's signing tool, and
the party directory, device inventory and registrations that place the templates' devices.

The templates' originator 90-B3-D5-1F-30-01-00-00 is a ZAZ1 supplier and their NO certificates are
the ZAZ1 network operator's (entity 90-B3-D5-1F-30-02-00-00), issued by the Z1 Organisation CA that the
6.21 template carries as its CertificationPathCertificate. Everything is fetched by tests/dcc_packages.py.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from processor.domain.certificates import TrustStore
from processor.domain.identifiers import Fuel
from processor.domain.model import Device, DeviceStatus, DeviceType, Party, PartyDirectory, Registration
from tests.dcc_packages import duis_template, npm_package

SIGN_WRAP = ("@smartdcc/duis-sign-wrap", "0.1.2")
SUPPLIER = "90-B3-D5-1F-30-01-00-00"
NO_ENTITY = "90-B3-D5-1F-30-02-00-00"
OTHER_NO_ENTITY = "90-B3-D5-1F-30-02-00-09"  # LOND's: a market id with credentials, none in the templates
HANDOVER = "CS02bNOByNOHandover_6.21_SUCCESS_REQUEST_DUIS.XML"  # a Supplier's 6.21 placing NO certificates
KRP_IMMEDIATE = "CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML"
KRP_FUTURE = "CS02bSupplierBySupplier_6.15.1_FUTURE_DATED_SUCCESS_REQUEST_DUIS.XML"
KRP_CANCELLATION = "CS02bSupplierBySupplier_6.15.1_CANCELLATION_SUCCESS_REQUEST_DUIS.XML"
NO_BY_NO = "CS02bNOByNO_6.15.1_SUCCESS_REQUEST_DUIS.XML"
COMMISSION = "ECS70Commission_8.1.1_SUCCESS_REQUEST_DUIS.XML"
ESME_MPAN, GPF_MPRN = "1200000000020", "3938424403"
T0 = 1_500_000_000_000  # 2017: every record below is in force from then on

CREDENTIALS = [
    (SUPPLIER, Party("ZAZSUP", "IS")),
    (NO_ENTITY, Party("ZAZNO", "ED")),
    (OTHER_NO_ENTITY, Party("LOND", "ED")),
]
DIRECTORY = PartyDirectory({entity: (party,) for entity, party in CREDENTIALS})
ZAZ1 = Path(__file__).resolve().parent / "data" / "zaz1"


def registrations(operator: str = "ZAZNO") -> dict[str, Registration]:
    return {
        ESME_MPAN: Registration(ESME_MPAN, Fuel.ELECTRICITY, operator, "ZAZSUP", T0, 1),
        GPF_MPRN: Registration(GPF_MPRN, Fuel.GAS, operator, "ZAZSUP", T0, 1),
    }


def inventory_record(device_id: str, kind: DeviceType, *mpxns: str) -> Device:
    return Device(device_id, kind, mpxns, DeviceStatus.COMMISSIONED, T0, 1)


def zaz1_base64(name: str) -> str:
    """A ZAZ1 certificate of tests/data/zaz1 as DUIS carries it: the PEM body, one line."""
    return "".join(line for line in (ZAZ1 / name).read_text().splitlines() if not line.startswith("-----"))


def with_zaz1_certificates(document: str, party: str) -> str:
    """A template with the ZAZ1 certificates of ``party`` (e.g. "Z1-supplier", "Z1-networkOperator") in its
    DS and KA cells."""
    for element, usage in (("DigitalSigningCertificate", "ds"), ("KeyAgreementCertificate", "ka")):
        document = re.sub(rf"<sr:{element}>[^<]+<", f"<sr:{element}>{zaz1_base64(f'{party}-{usage}.pem')}<", document)
    return document


def with_cpv_checks(document: str, value: str) -> str:
    """A template with its ApplyTimeBasedCPVChecks flag set to ``value``."""
    flag = re.compile(r"<sr:ApplyTimeBasedCPVChecks>\w+</sr:ApplyTimeBasedCPVChecks>")
    assert flag.search(document), "the template has no ApplyTimeBasedCPVChecks"
    return flag.sub(f"<sr:ApplyTimeBasedCPVChecks>{value}</sr:ApplyTimeBasedCPVChecks>", document)


def target_of(document: bytes) -> str:
    found = re.search(rb"<sr:RequestID>[^:<]+:([^:<]+):", document)
    assert found, "no RequestID"
    return found.group(1).decode()


def certificates_of(document: bytes) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(rb"Certificate>([A-Za-z0-9+/=\s]+)</", document)]


def z1_oca() -> x509.Certificate:
    """The Z1 Organisation CA, as the 6.21 template carries it."""
    found = re.search(r"<sr:Certificate>([^<]+)</sr:Certificate>", duis_template(HANDOVER))
    assert found
    return x509.load_der_x509_certificate(base64.b64decode(found.group(1)))


def trust_store() -> TrustStore:
    return TrustStore([z1_oca()])


def tool_jar() -> Path:
    return npm_package(*SIGN_WRAP) / "dist" / "tool.jar"


def dcc_tool(kind: str, document: bytes) -> subprocess.CompletedProcess[bytes]:
    """The DCC's own tool: ``Sign`` validates against the DUIS XSD and signs with the originator's ZAZ1 key;
    ``Validate`` checks the XSD and the signature (exit 0 ok, 10 invalid)."""
    java = shutil.which("java")
    if java is None:
        pytest.skip("Java is not installed: it runs the DCC's duis-sign-wrap tool (apt-get install openjdk-17-jre)")
    return subprocess.run(
        [java, "-cp", str(tool_jar()), f"uk.co.smartdcc.boxed.xmldsig.{kind}", "-"],
        input=document,
        capture_output=True,
        timeout=120,
    )


def signed(document: bytes | str) -> bytes:
    raw = document.encode() if isinstance(document, str) else document
    done = dcc_tool("Sign", raw)
    assert done.returncode == 0, done.stderr.decode()[-800:]
    return done.stdout
