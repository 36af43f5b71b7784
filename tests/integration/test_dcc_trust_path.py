"""The trust path on the DCC's real test PKI: the Z1 Organisation CA certificate, taken from the
CertificationPathCertificates of the DCC's own DUIS template CS02bNOByNOHandover_6.21, verifies every
Z1/Z1b organisation certificate of ZAZ1, and none of the others."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from cryptography import x509

from processor.domain.certificates import UNTRUSTED, CertificateReader, TrustStore
from processor.errors import CertificateError
from tests.dcc_packages import duis_template

pytestmark = pytest.mark.integration

ZAZ1 = Path(__file__).resolve().parents[1] / "data" / "zaz1"


def z1_organisation_ca() -> x509.Certificate:
    xml = duis_template("CS02bNOByNOHandover_6.21_SUCCESS_REQUEST_DUIS.XML")
    path = re.search(r"<sr:CertificationPathCertificates>(.*?)</sr:CertificationPathCertificates>", xml, re.S)
    assert path, "the template carries no CertificationPathCertificates"
    (encoded,) = re.findall(r"<sr:Certificate>\s*([A-Za-z0-9+/=]+)\s*</sr:Certificate>", path.group(1))
    return x509.load_der_x509_certificate(base64.b64decode(encoded))


def _der(path: Path) -> bytes:
    lines = path.read_text().splitlines()
    return base64.b64decode("".join(line for line in lines if not line.startswith("-----")))


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_the_z1_organisation_ca_verifies_exactly_the_z1_organisation_certificates():
    authority = z1_organisation_ca()
    assert authority.subject.rfc4514_string() == "CN=Z1,OU=07"
    reader = CertificateReader(trust_store=TrustStore([authority]))
    trusted, refused = [], []
    for path in sorted(ZAZ1.glob("*.pem")):
        try:
            reader.read(_der(path))
            trusted.append(path.name)
        except CertificateError as exc:
            assert exc.reason == UNTRUSTED, (path.name, exc.detail)
            refused.append(path.name)
    z1 = [p.name for p in sorted(ZAZ1.glob("Z1*.pem"))]
    assert len(z1) == 25 and trusted == z1, f"trusted {trusted}"
    assert refused and not any(name.startswith("Z1") for name in refused)
