"""Scope is what the XML parser reads (issue 34): smuggling shapes built from the DCC's real templates, and a
property test that rewrites every template into XML-equivalent forms and asserts the reading never changes."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.avro import codec
from processor.duis.request import candidate, read
from processor.errors import DuisError
from processor.kafka.records import Input, Source
from processor.names import Topics
from tests.dcc_packages import DUIS_TEMPLATES, duis_template, npm_package
from tests.duis_world import HANDOVER, KRP_IMMEDIATE
from tests.unit.duis.test_duis_input import NOW, handover, no_certificates_krp, world_judge

TOPICS = Topics()
DECOY = "<sr:ServiceReferenceVariant>6.15.2</sr:ServiceReferenceVariant>"
REAL = "<sr:ServiceReferenceVariant>6.21</sr:ServiceReferenceVariant>"


def template_names() -> list[str]:
    return sorted(p.name for p in (npm_package(*DUIS_TEMPLATES) / "templates").glob("*.XML"))


def outcome(document: bytes) -> tuple[str, str | None]:
    """Where the judge sends ``document`` (the LOND world: the templates' ZAZ NO certificates are foreign)."""
    _, devices = handover()
    first = world_judge("LOND", devices)([Input(b"k", document, [], Source("in", 0, 1), NOW)]).outputs[0]
    if first.topic == TOPICS.rejected:
        return first.topic, codec("SrRejection").decode(first.value)["reason"]
    return first.topic, None


def _smuggled() -> list[tuple[str, str]]:
    """(name, document): a Supplier's 6.21 placing another NO's certificates, dressed up."""
    base = duis_template(HANDOVER)
    spaced = REAL.replace("<sr:ServiceReferenceVariant>", "<sr:ServiceReferenceVariant >").replace(
        "</sr:ServiceReferenceVariant>", "</sr:ServiceReferenceVariant\n>"
    )
    return [
        ("comment decoy, whitespace in the real tags", base.replace(REAL, f"<!--{DECOY}-->{spaced}")),
        ("comment decoy after the real element", base.replace(REAL, f"{REAL}<!--{DECOY}-->")),
        ("processing-instruction decoy", base.replace(REAL, f"<?srguard {DECOY}?>{spaced}")),
        (
            "decoy in another namespace",
            base.replace(REAL, f'<x:ServiceReferenceVariant xmlns:x="urn:x">6.15.2</x:ServiceReferenceVariant>{REAL}'),
        ),
        (
            "decoy in an attribute",
            base.replace("<sr:Header>", f'<sr:Header xmlns:q="urn:q" q:note="{DECOY.replace("<", "&lt;")}">'),
        ),
        (
            "variant in CDATA",
            base.replace(REAL, "<sr:ServiceReferenceVariant><![CDATA[6.21]]></sr:ServiceReferenceVariant>"),
        ),
        (
            "variant as character references",
            base.replace(REAL, "<sr:ServiceReferenceVariant>&#54;&#x2e;21</sr:ServiceReferenceVariant>"),
        ),
        (
            "variant split by a comment",
            base.replace(REAL, "<sr:ServiceReferenceVariant>6.<!--15.2-->21</sr:ServiceReferenceVariant>"),
        ),
        (
            "variant padded with whitespace",
            base.replace(REAL, "<sr:ServiceReferenceVariant>\n  6.21\t</sr:ServiceReferenceVariant>"),
        ),
        ("another prefix", base.replace("xmlns:sr=", "xmlns:dcc=").replace("<sr:", "<dcc:").replace("</sr:", "</dcc:")),
        ("default namespace", base.replace("xmlns:sr=", "xmlns=").replace("<sr:", "<").replace("</sr:", "</")),
        ("byte order mark and CRLF", "\ufeff" + base.replace("\n", "\r\n")),
    ]


def _contradictions() -> list[tuple[str, str]]:
    """(name, document): shapes whose header and body disagree or repeat; never passed as out of scope."""
    base = duis_template(HANDOVER)
    return [
        (
            "6.15.2 header, 6.21 body",
            base.replace(REAL, DECOY).replace("<sr:ServiceReference>6.21<", "<sr:ServiceReference>6.15<"),
        ),
        ("two variants", base.replace(REAL, REAL + DECOY)),
        ("ServiceReference of another SR", base.replace("<sr:ServiceReference>6.21<", "<sr:ServiceReference>6.15<")),
        ("two bodies", base.replace("</sr:Body>", "</sr:Body><sr:Body/>")),
        ("two service requests in the body", re.sub(r"(<sr:Body>)", r"\1<sr:ReadInventory/>", base)),
        (
            "a Response on the request topic",
            base.replace("<sr:Request ", "<sr:Response ").replace("</sr:Request>", "</sr:Response>"),
        ),
        (
            "elements inside the variant",
            base.replace(REAL, "<sr:ServiceReferenceVariant>6.<sr:x/>15.2</sr:ServiceReferenceVariant>"),
        ),
    ]


@pytest.mark.parametrize(("name", "document"), _smuggled(), ids=[s[0] for s in _smuggled()])
def test_a_smuggled_placement_is_judged_as_the_plain_one(name, document):
    original = outcome(duis_template(HANDOVER).encode())
    assert original == (TOPICS.rejected, "foreign_network_operator")
    encoded = document.encode("utf-8")
    assert outcome(encoded) == original, name


@pytest.mark.parametrize(("name", "document"), _contradictions(), ids=[c[0] for c in _contradictions()])
def test_a_header_that_disagrees_with_itself_or_its_body_is_never_passed(name, document):
    topic, _ = outcome(document.encode())
    assert topic == TOPICS.dlq, name


def test_a_utf16_document_is_read_as_its_utf8_twin():
    base = duis_template(HANDOVER)
    utf16 = base.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert outcome(utf16) == outcome(base.encode()) == (TOPICS.rejected, "foreign_network_operator")


def test_every_dcc_request_template_is_read_and_only_6_15_1_and_6_21_are_candidates():
    variants: dict[str, str] = {}
    for name in template_names():
        document = read(duis_template(name).encode())
        variants[name] = document.variant
    assert len(variants) == 297
    scoped = sorted(n for n, v in variants.items() if v in ("6.15.1", "6.21"))
    assert len(scoped) == 9 and all("_6.15.1_" in n or "_6.21_" in n for n in scoped)


# --- XML-equivalent rewrites ---------------------------------------------------------------------------------

_BETWEEN_TAGS = re.compile(r">(\s*)<(?![?!])")  # a boundary between two tags (after the prolog's declaration)
_TEXT = re.compile(r"(<(?P<p>\w+):(?P<n>\w+)>)([^<]+)(</(?P=p):(?P=n)>)")


def _comments(text: str, rng: random.Random) -> str:
    decoys = [DECOY, "6.15.2", "ServiceReferenceVariant>8.1.1</sr:ServiceReferenceVariant>", " "]
    return _BETWEEN_TAGS.sub(
        lambda m: f">{m.group(1)}<!--{rng.choice(decoys)}-->" + "<" if rng.random() < 0.3 else m.group(0), text
    )


def _processing_instructions(text: str, rng: random.Random) -> str:
    return _BETWEEN_TAGS.sub(lambda m: f">{m.group(1)}<?decoy {DECOY}?><" if rng.random() < 0.3 else m.group(0), text)


def _tag_whitespace(text: str, rng: random.Random) -> str:
    return re.sub(
        r"<(/?)(\w+:\w+)>", lambda m: f"<{m.group(1)}{m.group(2)}{rng.choice([' ', '  ', chr(10), chr(9)])}>", text
    )


def _prefix(text: str, rng: random.Random) -> str:
    new = rng.choice(["a", "dcc", "sr2", "S"])
    return re.sub(r"(</?)sr:", rf"\1{new}:", text).replace("xmlns:sr=", f"xmlns:{new}=")


def _attribute_order(text: str, rng: random.Random) -> str:
    start = re.search(r"<(\w+:)?Request ([^>]*)>", text)
    assert start is not None
    attributes = re.findall(r'[\w:]+="[^"]*"', start.group(2))
    rng.shuffle(attributes)
    return text[: start.start(2)] + " ".join(attributes) + text[start.end(2) :]


def _cdata(text: str, rng: random.Random) -> str:
    return _TEXT.sub(
        lambda m: f"{m.group(1)}<![CDATA[{m.group(4)}]]>{m.group(5)}" if rng.random() < 0.5 else m.group(0), text
    )


def _character_references(text: str, rng: random.Random) -> str:
    def encode(m: re.Match[str]) -> str:
        if "&" in m.group(4):  # a value holding references already: rewriting inside one would break it
            return m.group(0)
        value = "".join(
            f"&#{ord(c)};" if rng.random() < 0.3 else f"&#x{ord(c):x};" if rng.random() < 0.2 else c for c in m.group(4)
        )
        return f"{m.group(1)}{value}{m.group(5)}"

    return _TEXT.sub(encode, text)


def _crlf(text: str, rng: random.Random) -> str:
    return text.replace("\n", "\r\n")


REWRITES = [
    _comments,
    _processing_instructions,
    _tag_whitespace,
    _attribute_order,
    _cdata,
    _character_references,
    _crlf,
    _prefix,
]


def _rewritten(text: str, chosen: list[int], seed: int, bom: bool) -> bytes:
    rng = random.Random(seed)
    for index in sorted(set(chosen), key=lambda i: REWRITES[i] is _prefix):  # the prefix last: others match sr:
        text = REWRITES[index](text, rng)
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


def _reading(document: bytes) -> object:
    try:
        return candidate(document, NOW, lambda variant: variant in ("6.15.1", "6.21")) or read(document).variant
    except DuisError as exc:
        return f"error: {exc}"


# A template and the rewrites made of it: _rewritten(duis_template(name), chosen, seed, bom).
REWRITTEN_TEMPLATES = {
    "name": st.sampled_from(template_names()),
    "chosen": st.lists(st.integers(0, len(REWRITES) - 1), min_size=1, max_size=len(REWRITES)),
    "seed": st.integers(0, 2**32),
    "bom": st.booleans(),
}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**REWRITTEN_TEMPLATES)
def test_xml_equivalent_rewrites_of_every_template_read_the_same(name, chosen, seed, bom):
    original = duis_template(name)
    before = _reading(original.encode())
    assert not str(before).startswith("error"), before
    after = _reading(_rewritten(original, chosen, seed, bom))
    assert after == before, [REWRITES[i].__name__ for i in chosen]


@pytest.mark.parametrize("seed", range(6))
def test_xml_equivalent_rewrites_of_an_in_scope_sr_get_the_same_decision(seed):
    rng = random.Random(seed)
    for base in (duis_template(HANDOVER), no_certificates_krp(KRP_IMMEDIATE).decode()):
        chosen = rng.sample(range(len(REWRITES)), rng.randint(2, len(REWRITES)))
        assert outcome(_rewritten(base, chosen, seed, seed % 2 == 0)) == outcome(base.encode())


def test_the_rewrites_really_rewrite():
    base = duis_template(HANDOVER)
    for index, rewrite in enumerate(REWRITES):
        changed = _rewritten(base, [index], 3, False)
        assert changed != base.encode(), rewrite.__name__
