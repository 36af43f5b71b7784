"""The C reading of a Request's layout (``plain_layout``) answers what the general reading (``layout``) does,
or nothing (issue 34: a fast path only where it is proven equivalent). Wherever it answers None the document
is read by ``layout`` in full, so the property is: never a different answer, and an answer for the DCC's own
documents (else it would be no fast path)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from processor.duis._layout import plain_layout
from processor.duis.request import NAMESPACE, Layout, layout, parsed, read
from processor.errors import DuisError
from tests.dcc_packages import duis_template
from tests.unit.duis.test_duis_scope import (
    REWRITTEN_TEMPLATES,
    _contradictions,
    _rewritten,
    _smuggled,
    template_names,
)

NS = f"{{{NAMESPACE}}}"


def general(root: etree._Element) -> Layout | str:
    try:
        return layout(root)
    except DuisError as exc:
        return f"error: {exc}"


def agrees(root: etree._Element) -> tuple[str, str, str] | None:
    """plain_layout's answer, asserted to be the general reading's where it gives one."""
    fast = plain_layout(root)
    if fast is not None:
        assert general(root) == fast
    return fast


def test_every_dcc_template_is_read_in_c_as_in_python():
    for name in template_names():
        root = parsed(duis_template(name).encode())
        assert agrees(root) is not None, name  # every DCC request is the plain shape: the fast path serves it


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**REWRITTEN_TEMPLATES)
def test_xml_equivalent_rewrites_are_read_in_c_as_in_python(name, chosen, seed, bom):
    # Comments and PIs are dropped by the parser: a rewritten DCC request is still the plain shape.
    assert agrees(parsed(_rewritten(duis_template(name), chosen, seed, bom))) is not None


@pytest.mark.parametrize(("name", "document"), _smuggled() + _contradictions())
def test_smuggling_shapes_and_contradictions_are_read_in_c_as_in_python_or_left_to_it(name, document):
    agrees(parsed(document.encode("utf-8")))


def test_bad_documents_read_the_same_through_read():
    """The layout errors are the general reading's: a repeated header element is refused with its message."""
    base = duis_template(template_names()[0])
    twice = base.replace("</sr:Header>", "<sr:ServiceReference>1.1</sr:ServiceReference></sr:Header>")
    assert plain_layout(parsed(twice.encode())) is None
    with pytest.raises(DuisError, match="more than one ServiceReference"):
        read(twice.encode())


# --- trees no parser makes: every node kind lxml can hold, where the C reading looks -------------------------

_NAMES = ["Header", "Body", "ServiceReferenceVariant", "ServiceReference", "RequestID", "Request", "Other"]


def _node(rng: random.Random, depth: int) -> etree._Element:
    kind = rng.random()
    if kind < 0.08:
        return etree.Comment(rng.choice(["6.15.2", " x "]))
    if kind < 0.14:
        return etree.PI("decoy", "6.21")
    if kind < 0.18:
        return etree.Entity("amp")
    namespace = rng.choice([NS, NS, NS, "{urn:other}", ""])
    element = etree.Element(namespace + rng.choice(_NAMES))
    if rng.random() < 0.5:
        element.text = rng.choice(["6.21", "6.15.1", " 6.21 ", "6.15", "", "8.1.1", "\u00a06.21"])
    if depth < 3:
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
            child = _node(rng, depth + 1)
            element.append(child)
            if rng.random() < 0.3:
                child.tail = rng.choice(["x", " ", "6.21"])
    return element


def _plausible(rng: random.Random) -> etree._Element:
    """A Request that is often nearly right: header and body present, sometimes doubled, mixed or wrong."""
    root = etree.Element(NS + "Request" if rng.random() < 0.9 else "{urn:other}Request")
    header = etree.SubElement(root, NS + "Header")
    for name, text in (("ServiceReference", "6.21"), ("ServiceReferenceVariant", "6.21")):
        for _ in range(rng.choice([1, 1, 1, 0, 2])):
            etree.SubElement(header, NS + name).text = text
    for _ in range(rng.choice([0, 0, 1, 2])):
        header.insert(rng.randint(0, len(header)), _node(rng, 2))
    body = etree.SubElement(root, NS + "Body")
    for _ in range(rng.choice([1, 1, 1, 0, 2])):
        body.append(_node(rng, 1))
    if rng.random() < 0.2:
        root.insert(rng.randint(0, len(root)), _node(rng, 1))
    return root


@pytest.mark.parametrize("seed", range(4))
def test_random_trees_with_comments_pis_entities_and_mixed_text_are_read_in_c_as_in_python(seed):
    rng = random.Random(seed)
    answered = 0
    for _ in range(5000):
        answered += agrees(_plausible(rng) if rng.random() < 0.7 else _node(rng, 0)) is not None
    assert answered > 200  # the property was exercised where C answers, not only where it declines
