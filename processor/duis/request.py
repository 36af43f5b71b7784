"""A DUIS ``Request`` document as the DCC receives it -> a ``ServiceRequest``.

Hostile input is expected: the document is parsed by defusedxml (no DTD, no entity, no external
reference, never a network access) and only after a size check. Most traffic is outside SECMP0063's
scope, so ``peek`` first reads the one header field that says so (ServiceReferenceVariant) with a
byte search, no parse; those SRs pass on byte-identical. Only candidates (6.15.1, 6.21) are parsed.

A DUIS SR names no MPxN, user role or device type: those stay None here and come from the DSP's
party directory and device inventory (processor.domain.rule.subject_of).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from processor.avro import DecodeError
from processor.domain.identifiers import InvalidIdentifier, canonical_eui64
from processor.domain.model import CertificateUsage, RemotePartyRole, ReplacementCertificate, ServiceRequest

NAMESPACE = "http://www.dccinterface.co.uk/ServiceUserGateway"
MAX_DOCUMENT_BYTES = 256 * 1024  # a 6.21 is ~4 kB; the largest DUIS requests (tariffs) are a few tens of kB
SCHEMA_MAJOR = "5"  # DUIS 5.x: the templates and the XSD this was built against
NS = f"{{{NAMESPACE}}}"
_USAGES = {
    f"{NS}DigitalSigningCertificate": CertificateUsage.DIGITAL_SIGNING,
    f"{NS}KeyAgreementCertificate": CertificateUsage.KEY_AGREEMENT,
    f"{NS}KeyAgreementTopUpCertificate": CertificateUsage.KEY_AGREEMENT_TOP_UP,
}
_VARIANT_TAG = b"ServiceReferenceVariant>"
_VARIANT_VALUE = re.compile(rb"\s*([0-9.]{1,16})\s*</(?:[A-Za-z_][\w.-]*:)?ServiceReferenceVariant>")
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY")  # DUIS has no DTD: any is a trick, refused before anything else


class DuisError(DecodeError):
    """Input that is not a DUIS Request srguard can read; it goes to the DLQ with this text."""

    def __init__(self, message: str, error_class: str = "duis") -> None:
        super().__init__(message, error_class)


@dataclass(frozen=True, slots=True)
class DuisPeek:
    variant: str


def screen(data: bytes | None) -> bytes:
    if data is None:
        raise DuisError("tombstone (null value) on the SR topic", "empty")
    if not data:
        raise DuisError("empty value", "empty")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DuisError(f"document of {len(data)} bytes exceeds the {MAX_DOCUMENT_BYTES}-byte limit", "too_large")
    for marker in _FORBIDDEN:
        if marker in data:
            raise DuisError(f"document holds a {marker.decode()} declaration: DTDs and entities are refused", "dtd")
    if NAMESPACE.encode() not in data:
        raise DuisError(f"not a DUIS document: namespace {NAMESPACE} is absent")
    return data


def peek(data: bytes | None) -> DuisPeek:
    """The ServiceReferenceVariant, by byte searches: no parse. Exactly one must be there."""
    document = screen(data)
    start = document.find(_VARIANT_TAG)
    value = _VARIANT_VALUE.match(document, start + len(_VARIANT_TAG)) if start > 0 else None
    if value is None or document[start - 1] == ord("/") or document.find(_VARIANT_TAG, value.end()) != -1:
        raise DuisError("not a DUIS Request: no single ServiceReferenceVariant element with a variant")
    return DuisPeek(value.group(1).decode("ascii"))


def _child(parent: Element, name: str, required: bool = True) -> Element | None:
    found = parent.find(f"{NS}{name}")
    if found is None and required:
        raise DuisError(f"not a DUIS Request: {parent.tag.removeprefix(NS)} has no {name}")
    return found


def _text(parent: Element, name: str) -> str:
    element = _child(parent, name)
    assert element is not None
    return (element.text or "").strip()


def _der(element: Element) -> bytes:
    """A certificate element's base64 text; empty or not base64 stays an unreadable certificate (b"" or
    the bytes given), which the rule rejects as malformed, naming it: never a silent accept."""
    text = "".join((element.text or "").split())
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


def _boolean(parent: Element, name: str) -> bool:
    """An xs:boolean flag; true when absent, so a missing flag never turns a check off."""
    element = _child(parent, name, required=False)
    text = (element.text or "").strip() if element is not None else "true"
    if text not in ("true", "false", "1", "0"):
        raise DuisError(f"{name} {text!r} is not an xs:boolean")
    return text in ("true", "1")


def document_root(data: bytes | None, kind: str) -> Element:
    """The screened, parsed document (no DTD, entities or external references), whose root is ``kind``."""
    document = screen(data)
    try:
        root = fromstring(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException) as exc:
        raise DuisError(f"not well-formed XML: {exc}") from exc
    if root.tag != f"{NS}{kind}":
        raise DuisError(f"not a DUIS {kind}: root element is {root.tag}")
    return root


def parse(data: bytes | None, received_at: int) -> ServiceRequest:
    """The whole Request, checked. ``received_at``: the SR's receipt time (its Kafka record's timestamp)."""
    root = document_root(data, "Request")
    version = root.get("schemaVersion", "")
    if version.partition(".")[0] != SCHEMA_MAJOR:
        raise DuisError(f"DUIS schemaVersion {version or '(none)'} is not supported (5.x is)")
    header = _child(root, "Header")
    assert header is not None
    request_id = _text(header, "RequestID")
    parts = request_id.split(":")
    if len(parts) != 3:
        raise DuisError(f"RequestID {request_id!r} is not originator:target:counter")
    try:
        originator, target = canonical_eui64(parts[0]), canonical_eui64(parts[1])
    except InvalidIdentifier as exc:
        raise DuisError(f"RequestID {request_id!r}: {exc}") from exc
    if not parts[2].isascii() or not parts[2].isdigit():
        raise DuisError(f"RequestID {request_id!r}: the counter is not a decimal number")
    variant = _text(header, "ServiceReferenceVariant")
    command = _text(header, "CommandVariant")
    if not command.isascii() or not command.isdigit():
        raise DuisError(f"CommandVariant {command!r} is not a number")
    body = _child(root, "Body")
    assert body is not None
    if len(body) != 1:
        raise DuisError(f"the Body holds {len(body)} elements, expected one service request")
    request = body[0]
    role_element = _child(request, "RemotePartyRole", required=False)
    role_text = (role_element.text or "").strip() if role_element is not None else ""
    try:
        role = RemotePartyRole(role_text) if role_text else None
    except ValueError as exc:
        raise DuisError(f"RemotePartyRole {role_text!r} is not one DUIS defines") from exc
    replacement = _child(request, "ReplacementCertificates", required=False)
    certificates = tuple(
        ReplacementCertificate(_USAGES[element.tag], _der(element))
        for element in (replacement.iter() if replacement is not None else ())
        if element.tag in _USAGES
    )
    execution = _child(request, "ExecutionDateTime", required=False)
    cpv_checks = _boolean(request, "ApplyTimeBasedCPVChecks")
    return ServiceRequest(
        request_id=request_id,
        service_reference_variant=variant,
        command_variant=int(command),
        originator_id=originator,
        user_role=None,
        target_device_id=target,
        target_device_type=None,
        mpxn=None,
        remote_party_role=role,
        certificates=certificates,
        submitted_at=received_at,
        execution_datetime=timestamp((execution.text or "").strip(), "ExecutionDateTime")
        if execution is not None
        else None,
        apply_time_based_cpv_checks=cpv_checks,
    )
