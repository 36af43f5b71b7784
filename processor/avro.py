"""The Avro contract (``schemas/*.avsc``) and a tiny serializer/deserializer per record type.

Times stay integer milliseconds: the reader schema drops ``timestamp-millis`` so fastavro does
not build a datetime per field on the hot path (the bytes on the wire are the same longs).
"""

from __future__ import annotations

import copy
import io
import json
from functools import cache
from importlib import resources
from typing import Any

import fastavro

SCHEMA_NAMES = ("ServiceRequest", "RegistrationChange", "PartyCredential", "SrRejection")


class DecodeError(ValueError):
    """Bytes that are not a valid record of the expected schema; the raw bytes stay with the caller.

    ``error_class`` is a bounded label for metrics and the DLQ header: undecodable, empty, too_large.
    """

    def __init__(self, message: str, error_class: str = "undecodable") -> None:
        super().__init__(message)
        self.error_class = error_class


@cache
def schema_json(name: str) -> dict[str, Any]:
    return json.loads(resources.files("processor").joinpath("schemas", f"{name}.avsc").read_text())


def _without_logical_types(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_without_logical_types(v) for v in node]
    return node


class AvroCodec:
    def __init__(self, name: str) -> None:
        self.name = name
        self.schema = fastavro.parse_schema(copy.deepcopy(schema_json(name)))
        self._reader_schema = fastavro.parse_schema(_without_logical_types(schema_json(name)))

    def encode(self, record: dict[str, Any]) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, self._reader_schema, record)
        return out.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        buffer = io.BytesIO(data)
        try:
            record = fastavro.schemaless_reader(buffer, self._reader_schema, None)
        except Exception as exc:  # fastavro raises many types on garbage (EOFError, ValueError, IndexError, ...)
            raise DecodeError(f"not a valid {self.name} record: {type(exc).__name__}: {exc}") from exc
        if buffer.tell() != len(data):
            raise DecodeError(f"not a valid {self.name} record: {len(data) - buffer.tell()} trailing bytes")
        return record  # type: ignore[return-value]


@cache
def codec(name: str) -> AvroCodec:
    return AvroCodec(name)
