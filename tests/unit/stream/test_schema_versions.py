"""Records written with an earlier version of a schema are still read (issue 17 case 5 added a field to
ServiceRequest): plain Avro by their layout, the registry format by the writer's schema id."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import replace

import fastavro
import pytest
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from processor.avro import RegistryAvro, codec, earlier_versions, schema_json
from processor.devkit.simulate.population import build_population
from processor.devkit.simulate.traffic import TrafficGenerator, TrafficMix
from processor.errors import DecodeError
from processor.names import Schema
from processor.stream.serde import decode_service_request, encode_service_request

POPULATION = build_population(seed=3, meter_points=50)
TRAFFIC = TrafficGenerator(POPULATION, TrafficMix(in_scope=1.0, incident_rate=0.3), seed=3).take(40)


def as_version_1(value: bytes) -> tuple[dict, bytes]:
    """A current record re-written with version 1 of ServiceRequest, as yesterday's producers wrote it."""
    record = codec(Schema.SERVICE_REQUEST).decode(value)
    del record["apply_time_based_cpv_checks"]
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(earlier_versions(Schema.SERVICE_REQUEST)[0]), record)
    return record, out.getvalue()


def test_a_version_1_record_reads_as_today_with_validity_checks_asked_for():
    for item in TRAFFIC:
        unchecked = replace(item.sr, apply_time_based_cpv_checks=False)
        _, old = as_version_1(encode_service_request(unchecked))
        assert len(old) == len(encode_service_request(unchecked)) - 1  # one boolean byte less
        assert decode_service_request(old) == item.sr  # the field's default: checks asked for


def test_the_flag_round_trips_and_a_wrong_length_is_refused_whatever_the_version():
    sr = replace(TRAFFIC[0].sr, apply_time_based_cpv_checks=False)
    value = encode_service_request(sr)
    assert decode_service_request(value) == sr
    for broken in (value + b"\x00", value[:-2]):
        with pytest.raises(DecodeError, match="not a valid ServiceRequest record"):
            decode_service_request(broken)


def test_every_earlier_version_is_a_prefix_of_the_current_one_with_defaults_after_it():
    """What makes plain Avro versions tell apart by length: fields are only ever added, at the end, with
    a default. A change of another kind needs the registry format (or a new topic)."""
    for name in Schema:
        current = schema_json(name)["fields"]
        for earlier in earlier_versions(name):
            fields = earlier["fields"]
            assert [f["name"] for f in current[: len(fields)]] == [f["name"] for f in fields], name
            assert all(
                json.dumps(a["type"]) == json.dumps(b["type"])
                for a, b in zip(current[: len(fields)], fields, strict=True)
            ), name
            assert all("default" in f for f in current[len(fields) :]) and len(current) > len(fields), name


def test_a_version_1_record_in_registry_format_reads_with_the_default():
    serde = RegistryAvro({"url": f"mock://{uuid.uuid4().hex}"})
    writer = AvroSerializer(serde.client, json.dumps(earlier_versions(Schema.SERVICE_REQUEST)[0]))
    record, _ = as_version_1(encode_service_request(TRAFFIC[0].sr))
    value = writer(record, SerializationContext("dcc.sr.requests", MessageField.VALUE))
    assert decode_service_request(value, serde, "dcc.sr.requests") == TRAFFIC[0].sr
