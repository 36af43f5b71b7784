"""SMKI Organisation Certificates: what the rule needs to know about a certificate, read with ``cryptography``.

A certificate's Remote Party Role is its subject OU (two hex digits, 03 = network operator) and its
owner is the subject x500UniqueIdentifier (2.5.4.45), a 64-bit BIT STRING holding the entity EUI-64.
The same few hundred NO certificates recur on millions of SRs, so parsed results (and the reasons of
failures) are cached in an LRU bounded by entries and by bytes, keyed by the DER bytes.

Whatever the bytes are, reading never raises anything but CertificateError: one hostile certificate
must cost its own SR a rejection, never the batch or the process.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from processor.domain.identifiers import eui64_from_bytes
from processor.errors import CertificateError, InvalidIdentifier


class OrganisationRole(StrEnum):
    """Subject OU values of SMKI Organisation Certificates."""

    RECOVERY = "01"
    SUPPLIER = "02"
    NETWORK_OPERATOR = "03"
    ACCESS_CONTROL_BROKER = "04"
    TRANSITIONAL_COS = "05"
    WAN_PROVIDER = "06"
    ISSUING_AUTHORITY = "07"
    LOAD_CONTROLLER = "08"
    OTHER = "7F"


class KeyUsage(StrEnum):
    DIGITAL_SIGNATURE = "digitalSignature"
    KEY_AGREEMENT = "keyAgreement"


CACHE_SIZE = 4096  # certificates read once and kept (the settings' certificate_cache_size default)
CACHE_BYTES = 16 << 20  # DER bytes (plus ~0.5 kB an entry) the cache may hold (certificate_cache_bytes)
MALFORMED = "malformed_certificate"
UNTRUSTED = "untrusted_issuer"
# An SMKI Organisation Certificate is a few hundred bytes; anything near this is not one, and is
# refused before any parsing (nor is it cached).
MAX_CERTIFICATE_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class SmkiCertificate:
    role_code: str  # subject OU as written, upper case; OrganisationRole when it is a known one
    entity_id: str  # canonical EUI-64
    key_usage: KeyUsage
    not_before: int  # ms
    not_after: int  # ms
    issuer: str
    serial: int
    fingerprint: str  # SHA-256 of the DER, hex

    @property
    def is_network_operator(self) -> bool:
        return self.role_code == OrganisationRole.NETWORK_OPERATOR


# ecdsa-with-SHA256/384/512 AlgorithmIdentifiers with an explicit NULL parameter (RFC 5758 says absent).
# Some ZAZ1 test certificates carry it and cryptography >= 45 refuses them; they are read after
# dropping the NULL, and their signature is checked over the original TBS bytes.
_ECDSA_WITH_NULL = {
    bytes.fromhex(f"300c06082a8648ce3d0403{n:02x}0500"): bytes.fromhex(f"300a06082a8648ce3d0403{n:02x}")
    for n in (2, 3, 4)
}


def _tlv(data: bytes, pos: int) -> tuple[int, int]:
    """(start of content, end of element) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + length > len(data):
        raise ValueError("truncated DER")
    return start, start + length


def _encode(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def _children(data: bytes, start: int, end: int) -> list[bytes]:
    out = []
    while start < end:
        _, elem_end = _tlv(data, start)
        out.append(data[start:elem_end])
        start = elem_end
    return out


def _without_ecdsa_null(der: bytes) -> tuple[bytes, bytes] | None:
    """(normalised DER, original TBS bytes) when the certificate uses the legacy NULL encoding."""
    if not any(legacy in der for legacy in _ECDSA_WITH_NULL):
        return None
    cert_start, cert_end = _tlv(der, 0)
    tbs, alg, signature = _children(der, cert_start, cert_end)
    tbs_start, tbs_end = _tlv(tbs, 0)
    fields = [_ECDSA_WITH_NULL.get(f, f) for f in _children(tbs, tbs_start, tbs_end)]
    fixed = _encode(0x30, _encode(0x30, b"".join(fields)) + _ECDSA_WITH_NULL.get(alg, alg) + signature)
    return fixed, tbs


def _load(der: bytes) -> tuple[x509.Certificate, bytes]:
    try:
        cert = x509.load_der_x509_certificate(der)
        return cert, cert.tbs_certificate_bytes
    except ValueError as first:
        try:
            legacy = _without_ecdsa_null(der)
        except ValueError:
            legacy = None
        if legacy is None:
            raise CertificateError(MALFORMED, f"not a DER X.509 certificate: {first}") from first
        try:
            return x509.load_der_x509_certificate(legacy[0]), legacy[1]
        except ValueError as exc:
            raise CertificateError(MALFORMED, f"not a DER X.509 certificate: {exc}") from exc


def _single(cert: x509.Certificate, oid: x509.ObjectIdentifier, what: str) -> x509.NameAttribute[str | bytes]:
    found = cert.subject.get_attributes_for_oid(oid)
    if len(found) != 1:
        raise CertificateError(MALFORMED, f"not an SMKI Organisation Certificate: {len(found)} subject {what}")
    return found[0]


def _entity_id(attribute: x509.NameAttribute[str | bytes]) -> str:
    """The entity EUI-64: exactly the DER ``03 09 00`` + 8 bytes (a BIT STRING of 64 bits, none unused).

    Anything else is refused: read loosely, a 56-bit string's unused-bits octet would become the EUI-64's
    first byte, and chosen bytes would then match a registered Network Operator.
    """
    value = attribute.value
    raw = value if isinstance(value, bytes) else value.encode("latin-1", "replace")
    if attribute._type is not _ASN1Type.BitString or len(raw) != 9 or raw[0] != 0:
        raise CertificateError(
            MALFORMED, f"x500UniqueIdentifier is not a 64-bit BIT STRING (content {raw.hex()}, type {attribute._type})"
        )
    try:
        return eui64_from_bytes(raw[1:])
    except InvalidIdentifier as exc:
        raise CertificateError(MALFORMED, f"x500UniqueIdentifier is not an EUI-64 ({raw.hex()})") from exc


def _key_usage(cert: x509.Certificate) -> KeyUsage:
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise CertificateError(MALFORMED, "no keyUsage extension") from exc
    if usage.digital_signature and not usage.key_agreement:
        return KeyUsage.DIGITAL_SIGNATURE
    if usage.key_agreement and not usage.digital_signature:
        return KeyUsage.KEY_AGREEMENT
    raise CertificateError(MALFORMED, "keyUsage must be exactly one of digitalSignature or keyAgreement")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def parse_certificate(der: bytes) -> tuple[SmkiCertificate, x509.Certificate, bytes]:
    """The SMKI view, the cryptography object and the signed TBS bytes; raises CertificateError only."""
    if len(der) > MAX_CERTIFICATE_BYTES:
        raise CertificateError(MALFORMED, f"{len(der)} bytes: larger than any SMKI certificate")
    try:
        return _parse(der)
    except CertificateError:
        raise
    except Exception as exc:  # cryptography raises its own classes (InvalidVersion, ...) and parses lazily
        raise CertificateError(MALFORMED, f"unreadable certificate: {type(exc).__name__}: {exc}") from None


def _parse(der: bytes) -> tuple[SmkiCertificate, x509.Certificate, bytes]:
    cert, tbs = _load(der)
    role = _single(cert, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU").value
    if not isinstance(role, str) or len(role) != 2:
        raise CertificateError(MALFORMED, f"subject OU {role!r} is not a two-hex-digit Remote Party Role")
    parsed = SmkiCertificate(
        role_code=role.upper(),
        entity_id=_entity_id(_single(cert, NameOID.X500_UNIQUE_IDENTIFIER, "x500UniqueIdentifier")),
        key_usage=_key_usage(cert),
        not_before=_ms(cert.not_valid_before_utc),
        not_after=_ms(cert.not_valid_after_utc),
        issuer=cert.issuer.rfc4514_string(),
        serial=cert.serial_number,
        fingerprint=hashlib.sha256(der).hexdigest(),
    )
    return parsed, cert, tbs


def anchor_problem(certificate: x509.Certificate) -> str | None:
    """Why ``certificate`` cannot be a trust anchor, or None: only a CA (basicConstraints cA, keyUsage keyCertSign)
    signs Organisation Certificates. An end-entity certificate given as an anchor would make srguard reject every
    certificate it did not sign itself (seen: 478 rejections where the right store gave 10)."""
    try:
        found = {type(extension.value): extension.value for extension in certificate.extensions}
    except ValueError as exc:
        return f"its extensions cannot be read ({exc})"
    constraints, usage = found.get(x509.BasicConstraints), found.get(x509.KeyUsage)
    if not isinstance(constraints, x509.BasicConstraints) or not constraints.ca:
        return "it is no CA (no basicConstraints cA: an end-entity certificate, an Organisation Certificate?)"
    if not isinstance(usage, x509.KeyUsage) or not usage.key_cert_sign:
        return "its keyUsage does not allow signing certificates (keyCertSign)"
    return None


class TrustStore:
    """SMKI Organisation CA certificates: a certificate is trusted when one of them signed it."""

    def __init__(self, authorities: list[x509.Certificate]) -> None:
        self.anchors = tuple(authorities)
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        for authority in authorities:
            self._by_subject.setdefault(authority.subject.public_bytes(), []).append(authority)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_subject.values())

    def signed_by_authority(self, cert: x509.Certificate, tbs: bytes) -> bool:
        """False for anything that is not a valid signature by a trusted authority, whatever the fault."""
        try:
            authorities = self._by_subject.get(cert.issuer.public_bytes(), ())
        except Exception:  # an issuer name cryptography cannot re-encode
            return False
        for authority in authorities:
            try:
                key = authority.public_key()
                algorithm = cert.signature_hash_algorithm  # raises for an unknown signature OID
                if not isinstance(key, ec.EllipticCurvePublicKey) or algorithm is None:
                    continue
                key.verify(cert.signature, tbs, ec.ECDSA(algorithm))
                return True
            except Exception:  # InvalidSignature, UnsupportedAlgorithm, or a hostile field's own error
                continue
        return False


@dataclass(frozen=True, slots=True)
class _Failure:
    """Why a certificate was refused. Cached instead of the exception: a re-raised exception object
    keeps every traceback it was raised through, and with them whole batches."""

    reason: str
    detail: str


# What one cached entry costs besides its DER key: the entry, the parsed view or failure, its strings.
_ENTRY_OVERHEAD_BYTES = 512


@dataclass(frozen=True, slots=True)
class CacheInfo:
    hits: int
    misses: int
    currsize: int
    bytes: int


class CertificateReader:
    """Parses (and, with a trust store, verifies) certificates once; later reads hit an LRU bounded by
    ``cache_size`` entries and ``cache_bytes`` (DER plus a fixed overhead per entry)."""

    def __init__(
        self, cache_size: int = CACHE_SIZE, trust_store: TrustStore | None = None, cache_bytes: int = CACHE_BYTES
    ) -> None:
        self.trust_store = trust_store
        self._max_entries = cache_size
        self._max_bytes = cache_bytes
        self._cache: OrderedDict[bytes, SmkiCertificate | _Failure] = OrderedDict()
        self._bytes = self._hits = self._misses = 0

    def _read_uncached(self, der: bytes) -> SmkiCertificate | _Failure:
        try:
            parsed, cert, tbs = parse_certificate(der)
        except CertificateError as exc:
            return _Failure(exc.reason, exc.detail)
        if self.trust_store is not None and not self.trust_store.signed_by_authority(cert, tbs):
            return _Failure(UNTRUSTED, f"{parsed.entity_id} certificate is not signed by a trusted SMKI OCA")
        return parsed

    def _lookup(self, der: bytes) -> SmkiCertificate | _Failure:
        cached = self._cache.get(der)
        if cached is not None:
            self._hits += 1
            self._cache.move_to_end(der)
            return cached
        self._misses += 1
        result = self._read_uncached(der)
        cost = len(der) + _ENTRY_OVERHEAD_BYTES
        if cost <= self._max_bytes:
            self._cache[der] = result
            self._bytes += cost
            while len(self._cache) > self._max_entries or self._bytes > self._max_bytes:
                evicted, _ = self._cache.popitem(last=False)
                self._bytes -= len(evicted) + _ENTRY_OVERHEAD_BYTES
        return result

    def read(self, der: bytes) -> SmkiCertificate:
        result = self._lookup(der)
        if isinstance(result, _Failure):
            raise CertificateError(result.reason, result.detail)  # a fresh exception: no traceback carried over
        return result

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._hits, self._misses, len(self._cache), self._bytes)
