"""The Avro contract (``schemas/*.avsc``) and a tiny serializer/deserializer per record type.

Times stay integer milliseconds: the reader schema drops ``timestamp-millis`` so fastavro does
not build a datetime per field on the hot path (the bytes on the wire are the same longs).
"""

from __future__ import annotations

import copy
import io
import json
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import fastavro

from processor.errors import DecodeError
from processor.names import Schema

SCHEMA_NAMES = tuple(Schema)


@cache
def schema_json(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(resources.files("processor").joinpath("schemas", f"{name}.avsc").read_text())
    return schema


def _without_logical_types(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_without_logical_types(v) for v in node]
    return node


def earlier_versions(name: str) -> list[dict[str, Any]]:
    """Earlier versions of a schema (``schemas/earlier/<name>.<version>.avsc``), newest first."""
    folder = resources.files("processor").joinpath("schemas", "earlier")
    found = {}
    for entry in folder.iterdir():
        stem, _, version = entry.name.removesuffix(".avsc").rpartition(".")
        if stem == name and version.isdigit():
            found[int(version)] = json.loads(entry.read_text())
    return [found[v] for v in sorted(found, reverse=True)]


class AvroCodec:
    """Plain Avro binary carries no schema id, so a record written with an earlier version of the schema
    is recognised by its layout: it is read with the newest writer schema that consumes it exactly, and
    resolved to the current one (a field added since takes its default). Layouts never collide: a field
    added at the end makes a record longer."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.schema = fastavro.parse_schema(copy.deepcopy(schema_json(name)))
        self._reader_schema = fastavro.parse_schema(_without_logical_types(schema_json(name)))
        self._earlier = [fastavro.parse_schema(_without_logical_types(s)) for s in earlier_versions(name)]

    def encode(self, record: dict[str, Any]) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, self._reader_schema, record)
        return out.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        try:
            return self._read(data, self._reader_schema, None)
        except DecodeError as current:
            for writer in self._earlier:
                try:
                    return self._read(data, writer, self._reader_schema)
                except DecodeError:
                    continue
            raise current

    def _read(self, data: bytes, writer: Any, reader: Any) -> dict[str, Any]:
        buffer = io.BytesIO(data)
        try:
            record = fastavro.schemaless_reader(buffer, writer, reader)
        except Exception as exc:  # fastavro raises many types on garbage (EOFError, ValueError, IndexError, ...)
            raise DecodeError(f"not a valid {self.name} record: {type(exc).__name__}: {exc}") from exc
        if buffer.tell() != len(data):
            raise DecodeError(f"not a valid {self.name} record: {len(data) - buffer.tell()} trailing bytes")
        return record  # type: ignore[return-value]


@cache
def codec(name: str) -> AvroCodec:
    return AvroCodec(name)


def to_millis(record: dict[str, Any]) -> dict[str, Any]:
    """Top-level datetimes (timestamp-millis fields read by a library that applies logical types) -> ms."""
    return {k: int(v.timestamp() * 1000) if isinstance(v, datetime) else v for k, v in record.items()}


class PlainAvro:
    """Schemaless Avro binary: the default wire format."""

    def encode(self, name: str, record: dict[str, Any], topic: str) -> bytes:
        return codec(name).encode(record)

    def decode(self, name: str, data: bytes, topic: str) -> dict[str, Any]:
        return codec(name).decode(data)

    def avro_body(self, data: bytes) -> bytes:
        return data


class RegistryAvro:
    """Confluent Schema Registry wire format (magic byte, schema id, Avro), with confluent-kafka's serdes.

    Schemas are registered under TopicNameStrategy (``<topic>-value``). Reading resolves the writer's
    schema against ours; the serdes apply timestamp-millis, so times are turned back into integer ms.
    """

    MAGIC = 0

    def __init__(self, registry_config: dict[str, str]) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self.client = SchemaRegistryClient.new_client(registry_config)  # mock:// URLs give the in-memory mock
        self._serializers: dict[str, Any] = {}
        self._deserializers: dict[str, Any] = {}

    def _context(self, topic: str) -> Any:
        from confluent_kafka.serialization import MessageField, SerializationContext

        return SerializationContext(topic, MessageField.VALUE)

    def encode(self, name: str, record: dict[str, Any], topic: str) -> bytes:
        from confluent_kafka.schema_registry.avro import AvroSerializer

        if name not in self._serializers:
            self._serializers[name] = AvroSerializer(
                self.client, json.dumps(schema_json(name)), conf={"auto.register.schemas": True}
            )
        return self._serializers[name](record, self._context(topic))  # type: ignore[no-any-return]

    def decode(self, name: str, data: bytes, topic: str) -> dict[str, Any]:
        from confluent_kafka.schema_registry.avro import AvroDeserializer

        self.avro_body(data)
        if name not in self._deserializers:
            self._deserializers[name] = AvroDeserializer(self.client, json.dumps(schema_json(name)))
        try:
            record = self._deserializers[name](data, self._context(topic))
        except Exception as exc:  # the serdes wrap fastavro's and the registry's errors alike
            raise DecodeError(f"not a valid {name} record (schema registry format): {exc}") from exc
        return to_millis(record)

    def avro_body(self, data: bytes) -> bytes:
        if len(data) < 5 or data[0] != self.MAGIC:
            raise DecodeError("not in Schema Registry wire format (no magic byte 0 and schema id)")
        return data[5:]


Serde = PlainAvro | RegistryAvro
PLAIN = PlainAvro()
