"""Mutated certificates, real and generated, through the reader with a trust store: 120,000 cases,
every one read or refused with a reason, none escaping as another exception."""

from __future__ import annotations

import base64
import random
from collections import Counter
from pathlib import Path

import pytest

from processor.devkit.simulate.population import build_population
from processor.domain.certificates import MALFORMED, UNTRUSTED, CertificateReader, TrustStore
from processor.errors import CertificateError

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")]

ZAZ1 = Path(__file__).resolve().parents[1] / "data" / "zaz1"
CASES = 120_000


def _pem_der(path: Path) -> bytes:
    lines = path.read_text().splitlines()
    return base64.b64decode("".join(line for line in lines if not line.startswith("-----")))


def _elements(der: bytes) -> list[tuple[int, int, int]]:
    """(tag position, content start, content end) of every DER element, walking into constructed ones."""
    found, stack = [], [(0, len(der))]
    while stack:
        pos, end = stack.pop()
        while pos + 2 <= end:
            tag, length, start = der[pos], der[pos + 1], pos + 2
            if length & 0x80:
                count = length & 0x7F
                if not 0 < count <= 3 or start + count > end:
                    break
                length, start = int.from_bytes(der[start : start + count], "big"), start + count
            if start + length > end:
                break
            found.append((pos, start, start + length))
            # into constructed elements, and into BIT STRINGs that wrap DER (the key, the signature)
            if tag & 0x20 or (tag == 0x03 and length > 1 and der[start] == 0):
                stack.append((start + (tag == 0x03), start + length))
            pos = start + length
    return found


def _mutate(rng: random.Random, der: bytes, elements: list[tuple[int, int, int]]) -> bytes:
    data = bytearray(der)
    tag_pos, start, end = rng.choice(elements)
    kind = rng.randrange(9)
    if kind == 0:  # a content byte: the version, an OID arc, a name character, a key usage bit
        if end > start:
            data[rng.randrange(start, end)] = rng.randrange(256)
    elif kind == 1:  # a tag
        data[tag_pos] = rng.choice([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x13, 0x30, 0x31, 0xA0, 0xA3, 0xFF])
    elif kind == 2:  # a length byte
        data[tag_pos + 1] = rng.choice([0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x84, 0x89, 0xFF, data[tag_pos + 1] ^ 1])
    elif kind == 3:  # truncated
        del data[rng.randrange(1, len(data)) :]
    elif kind == 4:  # an element's content dropped or doubled
        content = bytes(data[start:end])
        data[start:end] = b"" if rng.random() < 0.5 else content + content
    elif kind == 5:  # random bytes inserted
        at = rng.randrange(len(data))
        data[at:at] = rng.randbytes(rng.randrange(1, 9))
    elif kind == 6:  # an element swapped with another's
        _, other_start, other_end = rng.choice(elements)
        data[start:end] = der[other_start:other_end]
    elif kind == 7:  # the integer bytes of the version / serial pushed to extremes
        if end > start:
            data[start:end] = rng.choice([b"\x64", b"\xff" * (end - start), b"\x00" * (end - start), b"\x80"])
    else:  # several point mutations at once
        for _ in range(rng.randrange(2, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def test_mutated_certificates_never_escape_as_exceptions():
    population = build_population(seed=5, meter_points=10)
    seeds = [_pem_der(p) for p in sorted(ZAZ1.glob("*.pem"))]
    for organisation in [*population.network_operators.values(), *population.suppliers.values()][:6]:
        seeds += list(organisation.certificates.values())
    trusted = CertificateReader(cache_size=256, trust_store=TrustStore([population.pki.oca]))
    plain = CertificateReader(cache_size=256)
    walked = [(der, _elements(der)) for der in seeds]
    rng = random.Random(20261129)
    outcomes: Counter[str] = Counter()
    escapes: list[tuple[bytes, BaseException]] = []
    for case in range(CASES):
        der, elements = walked[case % len(walked)]
        mutated = _mutate(rng, der, elements)
        for reader in (trusted, plain) if case % 4 == 0 else (trusted,):
            try:
                reader.read(mutated)
                outcomes["read"] += 1
            except CertificateError as exc:
                outcomes[exc.reason] += 1
            except BaseException as exc:
                escapes.append((mutated, exc))
    print(f"{CASES} mutated certificates: {dict(outcomes)}")
    assert not escapes, f"{len(escapes)} escaped, first: {escapes[0][1]!r} on {escapes[0][0].hex()}"
    assert outcomes[MALFORMED] > CASES / 4 and outcomes[UNTRUSTED] > 100  # the mutations reach both checks
