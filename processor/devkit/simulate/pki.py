"""An SMKI-like PKI: root -> Organisation CA -> Organisation Certificates (ECDSA P-256, SHA-256).

Certificates follow the SMKI profile the parser expects: subject OU = Remote Party Role in two hex
digits, x500UniqueIdentifier = the entity EUI-64 as a 64-bit BIT STRING, critical keyUsage with
exactly one usage, critical certificatePolicies, 8-byte subject/authority key identifiers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

from processor.domain.certificates import KeyUsage, OrganisationRole
from processor.domain.identifiers import canonical_eui64

TEST_POLICY = ObjectIdentifier("1.2.826.0.1.8641679.1.2.1.4")
NOT_BEFORE = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)


def _ski(key: ec.EllipticCurvePublicKey) -> bytes:
    raw = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return hashlib.sha1(raw).digest()[:8]


def _deterministic_key(rng: random.Random) -> ec.EllipticCurvePrivateKey:
    # A scalar drawn from the seeded generator keeps the whole PKI reproducible for a seed.
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    return ec.derive_private_key(rng.randrange(1, order), ec.SECP256R1())


class SmkiPki:
    def __init__(self, seed: int = 0, name: str = "Z1") -> None:
        self._rng = random.Random(f"pki-{seed}-{name}")
        self._root_key = _deterministic_key(self._rng)
        self._oca_key = _deterministic_key(self._rng)
        root_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Root"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "07"),
            ]
        )
        self.oca_name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "07")]
        )
        self.root = self._ca(root_name, root_name, self._root_key.public_key(), self._root_key)
        self.oca = self._ca(self.oca_name, root_name, self._oca_key.public_key(), self._root_key)

    def _ca(
        self, subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey, signer: ec.EllipticCurvePrivateKey
    ) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key)
            .serial_number(self._rng.getrandbits(127))
            .not_valid_before(NOT_BEFORE)
            .not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier(_ski(key)), critical=False)
            .sign(signer, hashes.SHA256(), ecdsa_deterministic=True)
        )

    def oca_pem(self) -> bytes:
        """The trust store srguard is given: the Organisation CA certificate."""
        return self.oca.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        entity_id: str,
        role: OrganisationRole,
        usage: KeyUsage,
        validity: tuple[dt.datetime, dt.datetime] = (NOT_BEFORE, NOT_AFTER),
    ) -> bytes:
        """An Organisation Certificate (DER) for ``entity_id`` in ``role``, valid from/to ``validity``."""
        eui = bytes.fromhex(canonical_eui64(entity_id).replace("-", ""))
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value),
                x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, b"\x00" + eui, _ASN1Type.BitString),
            ]
        )
        return self.issue_with_subject(subject, usage, validity)

    def issue_with_subject(
        self, subject: x509.Name, usage: KeyUsage, validity: tuple[dt.datetime, dt.datetime] = (NOT_BEFORE, NOT_AFTER)
    ) -> bytes:
        """A certificate with any subject, signed by this PKI's OCA: for tests of what the reader refuses."""
        key = _deterministic_key(self._rng).public_key()
        signing = usage is KeyUsage.DIGITAL_SIGNATURE
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.oca_name)
            .public_key(key)
            .serial_number(self._rng.getrandbits(127))
            .not_valid_before(validity[0])
            .not_valid_after(validity[1])
            .add_extension(
                x509.KeyUsage(signing, False, False, False, not signing, False, False, False, False), critical=True
            )
            .add_extension(x509.CertificatePolicies([x509.PolicyInformation(TEST_POLICY, None)]), critical=True)
            .add_extension(x509.SubjectKeyIdentifier(_ski(key)), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier(_ski(self._oca_key.public_key()), None, None), critical=False)
            .sign(self._oca_key, hashes.SHA256(), ecdsa_deterministic=True)
        )
        return cert.public_bytes(serialization.Encoding.DER)
