"""DUIS ``Response`` documents: srguard's rejections (``dcc.sr.responses``), and the DCC's answers that the
ledger reads to confirm placements.

The shape is DUIS 5.x's error acknowledgement: Header {RequestID, ResponseCode, ResponseDateTime},
Body/ResponseMessage {ServiceReference, ServiceReferenceVariant}, unsigned. DUIS's ResponseCode list is
closed and holds none of srguard's codes (SECMP0063, which would have added them, was withdrawn): the
document is valid against the DUIS XSD in every element but ResponseCode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from processor.duis.request import NAMESPACE, NS, Element, document_root, service_reference, timestamp
from processor.errors import DuisError

SCHEMA_VERSION = "5.1"  # the DUIS XSD the DCC's own tool validates against
ALERTS = ("DeviceAlertMessage", "DCCAlertMessage")  # Response bodies that answer no SR


def duis_datetime(ms: int) -> str:
    """An xs:dateTime in UTC to the millisecond, as DUIS writes them: ``2030-01-15T00:00:00.000Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def response_xml(request_id: str, code: str, variant: str, at_ms: int) -> bytes:
    moment = duis_datetime(at_ms)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sr:Response xmlns:sr="{NAMESPACE}" schemaVersion="{SCHEMA_VERSION}">'
        f"<sr:Header><sr:RequestID>{escape(request_id)}</sr:RequestID>"
        f"<sr:ResponseCode>{escape(code)}</sr:ResponseCode>"
        f"<sr:ResponseDateTime>{moment}</sr:ResponseDateTime></sr:Header>"
        f"<sr:Body><sr:ResponseMessage><sr:ServiceReference>{escape(service_reference(variant))}</sr:ServiceReference>"
        f"<sr:ServiceReferenceVariant>{escape(variant)}</sr:ServiceReferenceVariant></sr:ResponseMessage></sr:Body>"
        "</sr:Response>"
    ).encode()


@dataclass(frozen=True, slots=True)
class DuisResponse:
    request_id: str
    response_code: str
    variant: str
    responded_at: int


def _find(root: Element, path: str) -> str:
    element = root.find("/".join(f"{NS}{part}" for part in path.split("/")))
    if element is None or not (element.text or "").strip():
        raise DuisError(f"not a DUIS Response: no {path}")
    return (element.text or "").strip()


def parse_response(data: bytes | None) -> DuisResponse | None:
    """A DUIS Response (its error acknowledgement, or the future-dated alert of an SR the device has now
    executed): RequestID, ResponseCode, the variant and the time. None for a device or DCC alert: it is
    not about an SR (its header has a ResponseID instead)."""
    root = document_root(data, "Response")
    if any(root.find(f"{NS}Body/{NS}{alert}") is not None for alert in ALERTS):
        return None
    return DuisResponse(
        _find(root, "Header/RequestID"),
        _find(root, "Header/ResponseCode"),
        _find(root, "Body/ResponseMessage/ServiceReferenceVariant"),
        timestamp(_find(root, "Header/ResponseDateTime"), "ResponseDateTime"),
    )
