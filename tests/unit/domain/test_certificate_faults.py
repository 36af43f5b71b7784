"""Hostile certificates cost their own SR a reason, never an exception; failures cost no memory."""

from __future__ import annotations

import contextlib
import gc
import random

import pytest

from processor.devkit.simulate.pki import SmkiPki
from processor.domain.certificates import (
    MALFORMED,
    UNTRUSTED,
    CertificateReader,
    KeyUsage,
    OrganisationRole,
    TrustStore,
)
from processor.errors import CertificateError

PKI = SmkiPki(seed=3)
VALID = PKI.issue("90-B3-D5-1F-30-02-00-00", OrganisationRole.NETWORK_OPERATOR, KeyUsage.DIGITAL_SIGNATURE)
ECDSA_SHA256 = bytes.fromhex("06082a8648ce3d040302")


def with_version(der: bytes, version: int) -> bytes:
    marker = bytes.fromhex("a003020102")  # [0] EXPLICIT INTEGER 2 (v3)
    assert marker in der
    return der.replace(marker, bytes.fromhex("a0030201") + bytes([version]), 1)


def test_an_unknown_x509_version_is_malformed_not_a_crash():
    # cryptography raises InvalidVersion here, which is not a ValueError: it crash-looped srguard.
    with pytest.raises(CertificateError) as raised:
        CertificateReader().read(with_version(VALID, 100))
    assert raised.value.reason == MALFORMED and "InvalidVersion" in raised.value.detail


def test_an_unknown_signature_algorithm_is_untrusted_not_a_crash():
    assert VALID.count(ECDSA_SHA256) == 2  # in the TBS and in the outer AlgorithmIdentifier
    odd = VALID.replace(ECDSA_SHA256, bytes.fromhex("06082a8648ce3d04037f"))  # 1.2.840.10045.4.3.127
    reader = CertificateReader(trust_store=TrustStore([PKI.oca]))
    with pytest.raises(CertificateError) as raised:
        reader.read(odd)
    assert raised.value.reason == UNTRUSTED


def test_an_oversized_certificate_is_refused_unparsed_and_not_cached():
    reader = CertificateReader()
    with pytest.raises(CertificateError) as raised:
        reader.read(VALID + b"\x00" * 20_000)
    assert raised.value.reason == MALFORMED and "larger than any SMKI certificate" in raised.value.detail


def test_a_cached_failure_is_raised_afresh_each_time():
    reader = CertificateReader()
    seen = []
    for _ in range(3):
        try:
            reader.read(VALID[:100])
        except CertificateError as exc:
            seen.append(exc)
    assert len({id(e) for e in seen}) == 3, "one exception object re-raised keeps every traceback it went through"
    assert reader.cache_info().misses == 1 and reader.cache_info().hits == 2


def test_repeated_failures_keep_no_frames_alive():
    reader = CertificateReader()

    class Batch:  # stands for the batch a frame of the caller holds
        pass

    def judge_once() -> None:
        batch = Batch()  # noqa: F841 - a local of the frame the traceback would keep
        with contextlib.suppress(CertificateError):
            reader.read(VALID[:50])

    for _ in range(200):
        judge_once()
    gc.collect()
    assert sum(isinstance(o, Batch) for o in gc.get_objects()) == 0


def test_the_cache_is_bounded_by_bytes():
    rng = random.Random(1)
    reader = CertificateReader(cache_size=10_000, cache_bytes=64 * 1024)
    for _ in range(2000):
        with pytest.raises(CertificateError):
            reader.read(rng.randbytes(4000))
    info = reader.cache_info()
    assert info.bytes <= 64 * 1024 and info.currsize < 20


def test_the_cache_is_bounded_by_entries_and_keeps_the_recent():
    reader = CertificateReader(cache_size=2)
    reader.read(VALID)
    for junk in (b"a", b"b"):
        with pytest.raises(CertificateError):
            reader.read(junk)
    assert reader.cache_info().currsize == 2
    reader.read(VALID)  # evicted: read again
    assert reader.cache_info().misses == 4
