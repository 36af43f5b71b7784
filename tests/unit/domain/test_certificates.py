"""The parser reads real SMKI-format certificates (the DCC's ZAZ1 test PKI) and the generator's."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.devkit.simulate.pki import SmkiPki
from processor.devkit.simulate.population import build_population
from processor.domain.certificates import CertificateReader, KeyUsage, OrganisationRole, TrustStore, parse_certificate
from processor.errors import CertificateError
from tests.certificates import web_certificate_der

ZAZ1 = Path(__file__).resolve().parents[2] / "data" / "zaz1"

# From tests/data/zaz1/README.md: file -> (entity, OU, usage, issuer)
EXPECTED = {
    "Z1-networkOperator-ds.pem": ("90-B3-D5-1F-30-02-00-00", "03", KeyUsage.DIGITAL_SIGNATURE, "CN=Z1,OU=07"),
    "Z1-networkOperator-ka.pem": ("90-B3-D5-1F-30-02-00-00", "03", KeyUsage.KEY_AGREEMENT, "CN=Z1,OU=07"),
    "Z1b-networkOperator-ds.pem": ("90-B3-D5-1F-30-02-00-00", "03", KeyUsage.DIGITAL_SIGNATURE, "CN=Z1,OU=07"),
    "Z1-supplier-ds.pem": ("90-B3-D5-1F-30-01-00-00", "02", KeyUsage.DIGITAL_SIGNATURE, "CN=Z1,OU=07"),
    "Z1-supplier2-ka.pem": ("90-B3-D5-1F-30-03-00-00", "02", KeyUsage.KEY_AGREEMENT, "CN=Z1,OU=07"),
    "Z1-accessControlBroker-ka.pem": ("90-B3-D5-1F-30-00-00-02", "04", KeyUsage.KEY_AGREEMENT, "CN=Z1,OU=07"),
    "Z1-loadController-ds.pem": ("90-B3-D5-1F-30-01-00-08", "08", KeyUsage.DIGITAL_SIGNATURE, "CN=Z1,OU=07"),
    "mdr-ds.pem": ("90-B3-D5-1F-30-01-00-09", "7F", KeyUsage.DIGITAL_SIGNATURE, "CN=Z99,OU=07"),
    "mdr-ka.pem": ("90-B3-D5-1F-30-01-00-09", "7F", KeyUsage.KEY_AGREEMENT, "CN=Z99,OU=07"),
    "otherUser-ds.pem": ("00-DB-12-34-56-78-00-04", "7F", KeyUsage.DIGITAL_SIGNATURE, "CN=OB,OU=07"),
    "xml-sign-90B3D51F30020000-ds.pem": ("90-B3-D5-1F-30-02-00-00", "87", KeyUsage.DIGITAL_SIGNATURE, "CN=Z1,OU=07"),
}


def der_of(name: str) -> bytes:
    lines = (ZAZ1 / name).read_text().splitlines()
    return base64.b64decode("".join(line for line in lines if not line.startswith("-----")))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_zaz1_certificates_are_read(name):
    cert, _, _ = parse_certificate(der_of(name))
    entity, ou, usage, issuer = EXPECTED[name]
    assert (cert.entity_id, cert.role_code, cert.key_usage, cert.issuer) == (entity, ou, usage, issuer)
    assert cert.is_network_operator == (ou == "03")


def test_every_zaz1_file_parses():
    names = sorted(p.name for p in ZAZ1.glob("*.pem"))
    assert len(names) == 33
    for name in names:
        assert parse_certificate(der_of(name))[0].entity_id


def test_legacy_null_parameter_certificate_keeps_its_original_tbs():
    """mdr-*.pem carry NULL in the ECDSA AlgorithmIdentifier; the signature is over the original TBS."""
    der = der_of("mdr-ds.pem")
    _, cert, tbs = parse_certificate(der)
    assert tbs in der and tbs != cert.tbs_certificate_bytes


def test_validity_is_reported_not_judged_today():
    cert, _, _ = parse_certificate(der_of("Z1-networkOperator-ds.pem"))
    assert cert.not_after == 1761696000000 or cert.not_after // 86_400_000 == 20390  # 2025-10-29


def test_generated_certificates_round_trip():
    pki = SmkiPki(seed=3)
    for role in (OrganisationRole.NETWORK_OPERATOR, OrganisationRole.SUPPLIER, OrganisationRole.ACCESS_CONTROL_BROKER):
        for usage in KeyUsage:
            parsed, cert, _ = parse_certificate(pki.issue("90b3d51f30020007", role, usage))
            assert (parsed.entity_id, parsed.role_code, parsed.key_usage) == ("90-B3-D5-1F-30-02-00-07", role, usage)
            policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies)
            assert policies.critical and cert.extensions.get_extension_for_class(x509.KeyUsage).critical
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            assert len(ski) == 8


def test_generation_is_deterministic_for_a_seed():
    assert SmkiPki(seed=5).issue(
        "90B3D51F30020000", OrganisationRole.NETWORK_OPERATOR, KeyUsage.KEY_AGREEMENT
    ) == SmkiPki(seed=5).issue("90B3D51F30020000", OrganisationRole.NETWORK_OPERATOR, KeyUsage.KEY_AGREEMENT)


def test_trust_store_accepts_own_oca_and_refuses_a_forgery(tmp_path):
    pki, rogue = SmkiPki(seed=1), SmkiPki(seed=1, name="ROGUE")
    bundle = tmp_path / "oca.pem"
    bundle.write_bytes(pki.oca_pem())
    reader = CertificateReader(trust_store=TrustStore(x509.load_pem_x509_certificates(bundle.read_bytes())))
    genuine = pki.issue("90B3D51F30020000", OrganisationRole.NETWORK_OPERATOR, KeyUsage.DIGITAL_SIGNATURE)
    forged = rogue.issue("90B3D51F30020000", OrganisationRole.NETWORK_OPERATOR, KeyUsage.DIGITAL_SIGNATURE)
    assert reader.read(genuine).entity_id == "90-B3-D5-1F-30-02-00-00"
    with pytest.raises(CertificateError) as raised:
        reader.read(forged)
    assert raised.value.reason == "untrusted_issuer"


def test_forgery_under_a_same_named_issuer_is_refused():
    """The rogue CA copies the genuine OCA's name: only the signature tells them apart."""
    pki = SmkiPki(seed=1)
    impostor = SmkiPki(seed=2)  # also named "Z1", different keys
    reader = CertificateReader(trust_store=TrustStore([pki.oca]))
    forged = impostor.issue("90B3D51F30020000", OrganisationRole.NETWORK_OPERATOR, KeyUsage.DIGITAL_SIGNATURE)
    with pytest.raises(CertificateError, match="not signed by a trusted"):
        reader.read(forged)


def test_non_smki_certificate_is_malformed():
    with pytest.raises(CertificateError) as raised:
        parse_certificate(web_certificate_der())
    assert raised.value.reason == "malformed_certificate" and "OU" in raised.value.detail


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_certificate_error(data):
    with pytest.raises(CertificateError):
        parse_certificate(data)


@given(st.integers(min_value=1, max_value=400))
def test_truncated_der_is_malformed(cut):
    der = der_of("Z1-networkOperator-ds.pem")
    with pytest.raises(CertificateError) as raised:
        parse_certificate(der[: min(cut, len(der) - 1)])
    assert raised.value.reason == "malformed_certificate"


def test_reader_caches_results_and_failures():
    reader = CertificateReader(cache_size=2)
    der = der_of("Z1-networkOperator-ka.pem")
    for _ in range(5):
        reader.read(der)
        with pytest.raises(CertificateError):
            reader.read(b"junk")
    info = reader.cache_info()
    assert (info.hits, info.misses, info.currsize) == (8, 2, 2)


def test_only_a_ca_is_a_trust_anchor(tmp_path):
    """An Organisation Certificate (end entity) given as the trust store is one line, exit 2: not an anchor that
    silently rejects everything it did not sign."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from processor.errors import SettingError
    from processor.wiring import trust_store

    leaf = tmp_path / "leaf.pem"
    leaf.write_text((ZAZ1 / "Z1-loadController-ds.pem").read_text())
    with pytest.raises(SettingError, match=r"certificate 1 \(.*\): it is no CA"):
        trust_store(leaf)
    population = build_population(seed=2, meter_points=10)
    oca = tmp_path / "oca.pem"
    oca.write_bytes(population.pki.oca.public_bytes(Encoding.PEM) + leaf.read_bytes())
    with pytest.raises(SettingError, match="certificate 2"):  # one end entity among CAs is still refused
        trust_store(oca)
    oca.write_bytes(population.pki.oca.public_bytes(Encoding.PEM))
    assert len(trust_store(oca)) == 1
