"""Serializers and deserializers for the SR stream: Avro binary in, Avro/bytes out.

The cheap path: most SRs are outside SECMP0063's scope, and the rule needs only the variant, the
user role and the device type to know that. ``peek`` reads just those leading fields of the Avro
record (strictly: lengths, UTF-8 and enum indices are checked) so an out-of-scope SR is passed on
byte-identical without decoding its certificates or payload. Candidates are decoded in full.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from processor.avro import PLAIN, Serde, schema_json
from processor.domain.decision import Decision
from processor.domain.model import (
    CertificateUsage,
    DeviceType,
    RemotePartyRole,
    ReplacementCertificate,
    ServiceRequest,
    UserRole,
)
from processor.domain.rule import is_candidate
from processor.duis.request import candidate as duis_request
from processor.errors import DecodeError, ErrorClass
from processor.kafka.records import Input, Source
from processor.names import Schema

SrReader = Callable[[Input], ServiceRequest | None]  # the SR when it is a candidate, None when out of scope

MAX_STRING = 1 << 20  # no leading SR field is anywhere near this; a larger length is garbage


def _enum_symbols(name: str) -> list[str]:
    for field in schema_json(Schema.SERVICE_REQUEST)["fields"]:
        kind = field["type"]
        if isinstance(kind, dict) and kind.get("name") == name:
            return list(kind["symbols"])
    raise KeyError(name)


USER_ROLES = _enum_symbols("UserRole")
DEVICE_TYPES = _enum_symbols("DeviceType")


@dataclass(frozen=True, slots=True)
class Peek:
    request_id: str
    variant: str
    user_role: str
    device_type: str


def in_scope(head: Peek) -> bool:
    """Whether SECMP0063 may touch this SR, from its leading fields alone (the target's type is the
    device inventory's to say: it is looked up for candidates only)."""
    return is_candidate(head.variant, head.user_role)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise DecodeError("not a ServiceRequest: truncated or overlong varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7


def _string(data: bytes, pos: int) -> tuple[str, int]:
    size, pos = _varint(data, pos)
    if size < 0 or size > MAX_STRING or pos + size > len(data):
        raise DecodeError(f"not a ServiceRequest: bad string length {size}")
    try:
        return data[pos : pos + size].decode("utf-8"), pos + size
    except UnicodeDecodeError as exc:
        raise DecodeError("not a ServiceRequest: a string field is not UTF-8") from exc


def _enum(data: bytes, pos: int, symbols: list[str]) -> tuple[str, int]:
    index, pos = _varint(data, pos)
    if not 0 <= index < len(symbols):
        raise DecodeError(f"not a ServiceRequest: enum index {index} out of range")
    return symbols[index], pos


# The leading fields in schema order: request_id, variant, command_variant, originator, role, target, device.
_LEADING: tuple[tuple[Callable[..., tuple[object, int]], list[str] | None], ...] = (
    (_string, None),
    (_string, None),
    (_varint, None),
    (_string, None),
    (_enum, USER_ROLES),
    (_string, None),
    (_enum, DEVICE_TYPES),
)


def peek(data: bytes) -> Peek:
    """The fields the scope test needs. Hot path: one loop, one-byte lengths decoded inline."""
    if not data:
        raise DecodeError("empty value", ErrorClass.EMPTY)
    values: list[object] = []
    pos, end = 0, len(data)
    for read, symbols in _LEADING:
        first = data[pos] if pos < end else 0x80  # past the end: let the general path raise
        if first < 0x80:  # a one-byte varint: every short string length, enum index and small int
            number = (first >> 1) ^ -(first & 1)
            if read is _string:
                stop = pos + 1 + number
                if number < 0 or stop > end:
                    raise DecodeError(f"not a ServiceRequest: bad string length {number}")
                try:
                    values.append(data[pos + 1 : stop].decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise DecodeError("not a ServiceRequest: a string field is not UTF-8") from exc
                pos = stop
                continue
            if symbols is not None and not 0 <= number < len(symbols):
                raise DecodeError(f"not a ServiceRequest: enum index {number} out of range")
            values.append(symbols[number] if symbols is not None else number)
            pos += 1
            continue
        value, pos = read(data, pos, symbols) if symbols is not None else read(data, pos)
        values.append(value)
    return Peek(values[0], values[1], values[4], values[6])  # type: ignore[arg-type]


def candidate(
    data: bytes | None, wanted: Callable[[Peek], bool], serde: Serde = PLAIN, topic: str = ""
) -> ServiceRequest | None:
    """The SR in ``data`` when its leading fields are ``wanted``, else None; only those SRs are decoded
    whole (most of a stream is out of scope, and the peek costs a fraction of a full decode)."""
    if data is None:
        raise DecodeError("tombstone (null value) on the SR topic", ErrorClass.EMPTY)
    if not wanted(peek(serde.avro_body(data))):
        return None
    return decode_service_request(data, serde, topic)


def avro_reader(serde: Serde = PLAIN) -> SrReader:
    """SR input as Avro ``ServiceRequest`` records: peeked, and decoded whole when in scope."""
    return lambda item: candidate(item.value, in_scope, serde, item.source.topic)


def duis_reader(item: Input) -> ServiceRequest | None:
    """SR input as DUIS XML Requests: every document parsed (scope is what the parser reads), candidates
    read whole; the record's timestamp is the SR's receipt time."""
    return duis_request(item.value, item.timestamp, is_candidate)


def decode_service_request(data: bytes, serde: Serde = PLAIN, topic: str = "") -> ServiceRequest:
    r = serde.decode(Schema.SERVICE_REQUEST, data, topic)
    party = r["remote_party_role"]
    return ServiceRequest(
        request_id=r["request_id"],
        service_reference_variant=r["service_reference_variant"],
        command_variant=r["command_variant"],
        originator_id=r["originator_id"],
        user_role=UserRole(r["user_role"]),
        target_device_id=r["target_device_id"],
        target_device_type=DeviceType(r["target_device_type"]),
        mpxn=r["mpxn"],
        remote_party_role=RemotePartyRole(party) if party else None,
        certificates=tuple(ReplacementCertificate(CertificateUsage(c["usage"]), c["der"]) for c in r["certificates"]),
        submitted_at=r["submitted_at"],
        execution_datetime=r["execution_datetime"],
        payload=r["payload"],
        apply_time_based_cpv_checks=r["apply_time_based_cpv_checks"],
    )


def encode_service_request(sr: ServiceRequest, serde: Serde = PLAIN, topic: str = "") -> bytes:
    if sr.user_role is None or sr.target_device_type is None:
        raise ValueError(
            f"SR {sr.request_id}: an Avro ServiceRequest names its originator's role and its target's type"
        )
    return serde.encode(
        Schema.SERVICE_REQUEST,
        {
            "request_id": sr.request_id,
            "service_reference_variant": sr.service_reference_variant,
            "command_variant": sr.command_variant,
            "originator_id": sr.originator_id,
            "user_role": sr.user_role.value,
            "target_device_id": sr.target_device_id,
            "target_device_type": sr.target_device_type.value,
            "mpxn": sr.mpxn,
            "remote_party_role": sr.remote_party_role.value if sr.remote_party_role else None,
            "certificates": [{"usage": c.usage.value, "der": c.der} for c in sr.certificates],
            "submitted_at": sr.submitted_at,
            "execution_datetime": sr.execution_datetime,
            "payload": sr.payload,
            "apply_time_based_cpv_checks": sr.apply_time_based_cpv_checks,
        },
        topic,
    )


def encode_rejection(
    sr: ServiceRequest,
    decision: Decision,
    decided_at: int,
    source: Source,
    original: bytes,
    serde: Serde = PLAIN,
    topic: str = "",
) -> bytes:
    assert decision.code and decision.reason, "only rejections (or would-be rejections) are encoded"
    return serde.encode(
        Schema.SR_REJECTION,
        {
            "request_id": sr.request_id,
            "service_reference_variant": sr.service_reference_variant,
            "response_code": decision.code,
            "reason": decision.reason.value,
            "detail": decision.detail,
            "originator_id": sr.originator_id,
            "user_role": decision.user_role,
            "target_device_id": sr.target_device_id,
            "target_device_type": decision.device_type,
            "mpxn": decision.mpxn,
            "registered_network_operator_id": decision.registered_network_operator_id,
            "certificate_entity_ids": list(decision.certificate_entity_ids),
            "certificate_party_ids": list(decision.certificate_party_ids),
            "as_of": decision.as_of,
            "decided_at": decided_at,
            "source_topic": source.topic,
            "source_partition": source.partition,
            "source_offset": source.offset,
            "original": original,
            "submitted_at": sr.submitted_at,
        },
        topic,
    )
