"""A DUIS ``Request`` document as the DCC receives it -> a ``ServiceRequest``.

Whether an SR is in SECMP0063's scope is decided by what an XML parser reads, never by a byte search:
comments, processing instructions, CDATA, character references, whitespace inside tags and namespace
prefixes are XML's business, and a decoy in any of them must not change the reading (a comment can be
added to a signed SR without breaking its signature: exclusive canonicalisation drops comments). Every
document is parsed whole by libxml2 (lxml), hardened: no DTD (refused), no entity expansion, no network,
size-capped first. What is forwarded untouched is therefore a well-formed DUIS Request whose header
variant, service reference and body element agree. Those few elements are read from libxml2's tree in C
(processor.duis._layout, where the Python around the parse had cost more than the parse itself); any shape
but the plain one is read by ``layout`` here, which gives every error its message.

A DUIS SR names no MPxN, user role or device type: those stay None here and come from the DSP's
party directory and device inventory (processor.domain.rule.subject_of).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from lxml import etree

from processor.domain.decision import SR_REQUEST_HANDOVER, SR_UPDATE_SECURITY_CREDENTIALS
from processor.domain.identifiers import canonical_eui64
from processor.domain.model import CertificateUsage, RemotePartyRole, ReplacementCertificate, ServiceRequest
from processor.duis._layout import plain_layout
from processor.errors import DuisError, ErrorClass, InvalidIdentifier

Element = etree._Element
NAMESPACE = "http://www.dccinterface.co.uk/ServiceUserGateway"
MAX_DOCUMENT_BYTES = 256 * 1024  # a 6.21 is ~4 kB; the largest DUIS requests (tariffs) are a few tens of kB
SCHEMA_MAJOR = "5"  # DUIS 5.x: the templates and the XSD this was built against
NS = f"{{{NAMESPACE}}}"
# The body element each in-scope variant must carry, and back: a header that contradicts its body is no SR
# srguard may pass (the DCC's templates use each body name under exactly one variant).
BODIES = {
    SR_UPDATE_SECURITY_CREDENTIALS: "UpdateSecurityCredentialsKRP",
    SR_REQUEST_HANDOVER: "RequestHandoverOfDCCControlledDevice",
}
_BODY_OF_VARIANT = {variant: f"{NS}{body}" for variant, body in BODIES.items()}
_VARIANT_OF_BODY = {tag: variant for variant, tag in _BODY_OF_VARIANT.items()}
_USAGES = {
    f"{NS}DigitalSigningCertificate": CertificateUsage.DIGITAL_SIGNING,
    f"{NS}KeyAgreementCertificate": CertificateUsage.KEY_AGREEMENT,
    f"{NS}KeyAgreementTopUpCertificate": CertificateUsage.KEY_AGREEMENT_TOP_UP,
}
_FORBIDDEN = re.compile(rb"<!(DOCTYPE|ENTITY)")  # DUIS has no DTD: any is a trick, refused before the parse
_PARSERS = threading.local()  # an lxml parser must not be shared between threads


def _parser() -> etree.XMLParser:
    try:
        return _PARSERS.parser  # type: ignore[no-any-return]
    except AttributeError:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_blank_text=True,  # whitespace between elements: nothing to read, a little to build
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        _PARSERS.parser = parser
    return parser


def screen(data: bytes | None) -> bytes:
    if data is None:
        raise DuisError("tombstone (null value) on the SR topic", ErrorClass.EMPTY)
    if not data:
        raise DuisError("empty value", ErrorClass.EMPTY)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DuisError(
            f"document of {len(data)} bytes exceeds the {MAX_DOCUMENT_BYTES}-byte limit", ErrorClass.TOO_LARGE
        )
    forbidden = _FORBIDDEN.search(data)  # a regular expression: twice as fast as two `in` here
    if forbidden is not None:
        raise DuisError(
            f"document holds a <!{forbidden[1].decode()} declaration: DTDs and entities are refused", ErrorClass.DTD
        )
    return data


def parsed(data: bytes | None) -> Element:
    """The screened, parsed document's root (no DTD, entities or external references)."""
    document = screen(data)
    try:
        root = etree.fromstring(document, _parser())
    except etree.XMLSyntaxError as exc:
        raise DuisError(f"not well-formed XML: {exc}") from exc
    # A DTD in an encoding the byte screen cannot see (UTF-16, with or without a BOM); a document that starts
    # with "<" and a byte other than NUL is in an ASCII-compatible one, where the screen has looked already.
    ascii_compatible = document[0] == 0x3C and document[1:2] != b"\x00"
    if not ascii_compatible and root.getroottree().docinfo.internalDTD is not None:
        raise DuisError("document holds a DOCTYPE declaration: DTDs and entities are refused", ErrorClass.DTD)
    return root


def document_root(data: bytes | None, kind: str) -> Element:
    """The screened, parsed document, whose root is ``kind``."""
    return rooted(parsed(data), kind)


def rooted(root: Element, kind: str) -> Element:
    if root.tag != f"{NS}{kind}":
        raise DuisError(f"not a DUIS {kind}: root element is {root.tag}")
    return root


Children = dict[str, list[Element]]


def children(parent: Element) -> Children:
    """A parent's child elements by tag, in one pass (a find per field costs more than the parse)."""
    found: Children = {}
    for child in parent:
        tag = child.tag
        if tag in found:
            found[tag].append(child)
        else:
            found[tag] = [child]
    return found


def _only(parent: Element, within: Children, name: str, required: bool = True) -> Element | None:
    found = within.get(f"{NS}{name}", ())
    if len(found) > 1:
        raise DuisError(f"not a DUIS Request: {_local(parent)} has {len(found)} {name} elements")
    if not found and required:
        raise DuisError(f"not a DUIS Request: {_local(parent)} has no {name}")
    return found[0] if found else None


def _local(element: Element) -> str:
    return str(element.tag).removeprefix(NS)


def text_of(element: Element) -> str:
    """A simple-typed element's value as XML defines it (CDATA and character references read, comments gone)."""
    if len(element):
        raise DuisError(f"{_local(element)} holds elements where a value belongs")
    return (element.text or "").strip()


def _text(parent: Element, within: Children, name: str) -> str:
    element = _only(parent, within, name)
    assert element is not None
    return text_of(element)


def service_reference(variant: str) -> str:
    """``6.15.1`` -> ``6.15``; ``6.21`` -> ``6.21``: DUIS's ServiceReference is the variant's first two parts."""
    return ".".join(variant.split(".")[:2])


_HEADER, _BODY = f"{NS}Header", f"{NS}Body"
_VARIANT, _REFERENCE = f"{NS}ServiceReferenceVariant", f"{NS}ServiceReference"


def _single(parent: Element, wanted: tuple[str, str]) -> list[Element]:
    """The one element of each ``wanted`` tag among ``parent``'s children, in that order: a missing or a
    repeated one is no DUIS Request. One pass, no dictionaries."""
    first: Element | None = None
    second: Element | None = None
    for child in parent:
        tag = child.tag
        if tag == wanted[0]:
            if first is not None:
                raise DuisError(f"not a DUIS Request: {_local(parent)} has more than one {_local(child)}")
            first = child
        elif tag == wanted[1]:
            if second is not None:
                raise DuisError(f"not a DUIS Request: {_local(parent)} has more than one {_local(child)}")
            second = child
    if first is None or second is None:
        absent = wanted[0] if first is None else wanted[1]
        raise DuisError(f"not a DUIS Request: {_local(parent)} has no {absent.removeprefix(NS)}")
    return [first, second]


class Layout(NamedTuple):
    """What decides a Request's scope, as the parser read it."""

    variant: str  # the Header's one ServiceReferenceVariant
    reference: str  # its one ServiceReference
    body_tag: str  # the tag of the one element inside the one Body


def layout(root: Element) -> Layout:
    """The Request's layout, read through lxml: any document, every error with its message. (``plain_layout``,
    in C, answers the same for the plain shape every DCC request has, at a fifth of the cost.)"""
    header, body = _single(rooted(root, "Request"), (_HEADER, _BODY))
    variant_element, reference_element = _single(header, (_VARIANT, _REFERENCE))
    variant, reference = text_of(variant_element), text_of(reference_element)
    if len(body) != 1:
        raise DuisError(f"the Body holds {len(body)} elements, expected one service request")
    return Layout(variant, reference, str(body[0].tag))


class RequestDocument(NamedTuple):
    """A parsed DUIS Request whose header and body agree: what it is, read by the parser. (A named tuple: every
    document makes one, and a frozen dataclass costs four times as much to make.)"""

    variant: str
    root: Element

    @property
    def header(self) -> Element:
        return _single(self.root, (_HEADER, _BODY))[0]

    @property
    def body(self) -> Element:
        """The one service request element inside Body."""
        return _single(self.root, (_HEADER, _BODY))[1][0]


def read(data: bytes | None) -> RequestDocument:
    """The document, parsed and checked for what decides its scope: one Header with one variant that its
    ServiceReference agrees with, one Body holding one element, and that element agreeing with the variant."""
    root = parsed(data)
    variant, reference, tag = plain_layout(root) or layout(root)
    version = root.get("schemaVersion", "")
    if version.partition(".")[0] != SCHEMA_MAJOR:
        raise DuisError(f"DUIS schemaVersion {version or '(none)'} is not supported (5.x is)")
    if not variant or service_reference(variant) != reference:
        raise DuisError(f"ServiceReference {reference!r} does not agree with ServiceReferenceVariant {variant!r}")
    expected, claimed = _BODY_OF_VARIANT.get(variant), _VARIANT_OF_BODY.get(tag)
    if (expected is not None and tag != expected) or (claimed is not None and claimed != variant):
        raise DuisError(
            f"ServiceReferenceVariant {variant} contradicts the body element {tag.removeprefix(NS)}", ErrorClass.SCOPE
        )
    return RequestDocument(variant, root)


def _der(element: Element) -> bytes:
    """A certificate element's base64 text; empty or not base64 stays an unreadable certificate (b"" or
    the bytes given), which the rule rejects as malformed, naming it: never a silent accept."""
    text = "".join(text_of(element).split())
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8", "replace")


def timestamp(text: str, name: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise DuisError(f"{name} {text!r} is not an xs:dateTime") from exc
    if moment.tzinfo is None:
        raise DuisError(f"{name} {text!r} has no time zone")
    return int(moment.timestamp() * 1000)


def _boolean(parent: Element, within: Children, name: str) -> bool:
    """An xs:boolean flag; true when absent, so a missing flag never turns a check off."""
    element = _only(parent, within, name, required=False)
    text = text_of(element) if element is not None else "true"
    if text not in ("true", "false", "1", "0"):
        raise DuisError(f"{name} {text!r} is not an xs:boolean")
    return text in ("true", "1")


def service_request(document: RequestDocument, received_at: int) -> ServiceRequest:
    """The whole Request. ``received_at``: the SR's receipt time (its Kafka record's timestamp)."""
    header, body = _single(document.root, (_HEADER, _BODY))
    request = body[0]
    fields, header_fields = children(request), children(header)
    request_id = _text(header, header_fields, "RequestID")
    parts = request_id.split(":")
    if len(parts) != 3:
        raise DuisError(f"RequestID {request_id!r} is not originator:target:counter")
    try:
        originator, target = canonical_eui64(parts[0]), canonical_eui64(parts[1])
    except InvalidIdentifier as exc:
        raise DuisError(f"RequestID {request_id!r}: {exc}") from exc
    if not parts[2].isascii() or not parts[2].isdigit():
        raise DuisError(f"RequestID {request_id!r}: the counter is not a decimal number")
    command = _text(header, header_fields, "CommandVariant")
    if not command.isascii() or not command.isdigit():
        raise DuisError(f"CommandVariant {command!r} is not a number")
    role_element = _only(request, fields, "RemotePartyRole", required=False)
    role_text = text_of(role_element) if role_element is not None else ""
    try:
        role = RemotePartyRole(role_text) if role_text else None
    except ValueError as exc:
        raise DuisError(f"RemotePartyRole {role_text!r} is not one DUIS defines") from exc
    replacement = _only(request, fields, "ReplacementCertificates", required=False)
    certificates = tuple(
        ReplacementCertificate(_USAGES[str(element.tag)], _der(element))
        for element in (replacement.iter() if replacement is not None else ())
        if element.tag in _USAGES
    )
    execution = _only(request, fields, "ExecutionDateTime", required=False)
    cpv_checks = _boolean(request, fields, "ApplyTimeBasedCPVChecks")
    return ServiceRequest(
        request_id=request_id,
        service_reference_variant=document.variant,
        command_variant=int(command),
        originator_id=originator,
        user_role=None,
        target_device_id=target,
        target_device_type=None,
        mpxn=None,
        remote_party_role=role,
        certificates=certificates,
        submitted_at=received_at,
        execution_datetime=timestamp(text_of(execution), "ExecutionDateTime") if execution is not None else None,
        apply_time_based_cpv_checks=cpv_checks,
    )


def candidate(data: bytes | None, received_at: int, wanted: Callable[[str], bool]) -> ServiceRequest | None:
    """The SR in ``data`` when its variant is ``wanted``, read whole; None when it is a well-formed Request
    of another variant (passed on untouched). Anything else raises DuisError."""
    document = read(data)
    return service_request(document, received_at) if wanted(document.variant) else None


def parse(data: bytes | None, received_at: int) -> ServiceRequest:
    return service_request(read(data), received_at)
