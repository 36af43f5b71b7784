"""The processing step without Kafka: what each kind of SR becomes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.avro import codec
from processor.config import Mode, Topics
from processor.devkit.simulate.population import build_population
from processor.devkit.simulate.traffic import TrafficGenerator, TrafficMix
from processor.domain.certificates import CertificateReader, TrustStore
from processor.domain.decision import Branch, Policy, Reason
from processor.domain.reference import separate_lookups
from processor.domain.rule import CANDIDATE_VARIANTS
from processor.errors import DecodeError, DlqFlood
from processor.kafka.records import Input, Source
from processor.stream.dlq import DlqGuard, DlqPolicy, record_size
from processor.stream.judge import Judge
from processor.stream.serde import (
    DEVICE_TYPES,
    USER_ROLES,
    decode_service_request,
    encode_service_request,
    peek,
)

POPULATION = build_population(seed=9, meter_points=800)
TRAFFIC = TrafficGenerator(POPULATION, TrafficMix(in_scope=0.5, incident_rate=0.5, exempt=0.05), seed=9).take(1500)
TOPICS = Topics()


class CountingLookup:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, queries):
        self.calls += 1
        return POPULATION.registrations_in_force(queries)


def judge(mode=Mode.ENFORCE, lookup=None, max_record_bytes=1 << 20):
    return Judge(
        TOPICS,
        mode,
        Policy(),
        CertificateReader(trust_store=TrustStore([POPULATION.pki.oca])),
        separate_lookups(lookup or CountingLookup(), POPULATION.directory),
        max_record_bytes,
        clock=lambda: 1234.5,
    )


def inputs(items):
    return [
        Input(
            i.sr.target_device_id.encode(),
            encode_service_request(i.sr),
            [("trace", b"t1")],
            Source("dcc.sr.requests", 0, n),
        )
        for n, i in enumerate(items)
    ]


def test_each_sr_goes_to_exactly_one_place_as_labelled():
    lookup = CountingLookup()
    result = judge(lookup=lookup)(inputs(TRAFFIC))
    assert lookup.calls == 1, "registrations must be looked up once per batch"
    primary = [o for o in result.outputs if o.topic in (TOPICS.accepted, TOPICS.rejected)]
    assert len(primary) == len(TRAFFIC) and not result.dead.count(True)
    for item, out, original in zip(TRAFFIC, primary, inputs(TRAFFIC), strict=True):
        if item.rejected:
            assert out.topic == TOPICS.rejected
            rejection = codec("SrRejection").decode(out.value)
            assert rejection["reason"] == item.reason.value
            assert rejection["request_id"] == item.sr.request_id
            assert rejection["original"] == original.value
            assert (rejection["source_partition"], rejection["source_offset"]) == (0, original.source.offset)
            assert out.headers == [("srguard-outcome", b"rejected"), ("srguard-issuers", b"checked")]
            assert rejection["decided_at"] == 1234500 and rejection["as_of"] == item.sr.as_of
        else:
            assert out.topic == TOPICS.accepted
            assert out.value == original.value, "accepted SRs must be byte-identical"
            assert out.headers == [("trace", b"t1"), ("srguard-outcome", b"accepted")]
    assert sum(result.rejected.values()) == sum(1 for i in TRAFFIC if i.rejected)
    assert result.accepted[Branch.EXEMPT_NETWORK_OPERATOR.value] == sum(
        1 for i in TRAFFIC if i.branch is Branch.EXEMPT_NETWORK_OPERATOR
    )


def test_audit_mode_accepts_everything_and_records_would_be_rejections():
    result = judge(Mode.AUDIT)(inputs(TRAFFIC))
    accepted = [o for o in result.outputs if o.topic == TOPICS.accepted]
    audit = [o for o in result.outputs if o.topic == TOPICS.audit]
    assert len(accepted) == len(TRAFFIC) and not any(o.topic == TOPICS.rejected for o in result.outputs)
    assert len(audit) == sum(1 for i in TRAFFIC if i.rejected) == sum(result.audited.values())
    assert {codec("SrRejection").decode(o.value)["reason"] for o in audit} <= {r.value for r in Reason}
    unchecked = Judge(
        TOPICS, Mode.AUDIT, Policy(), CertificateReader(), separate_lookups(CountingLookup(), POPULATION.directory)
    )
    said = {dict(o.headers)["srguard-issuers"] for o in unchecked(inputs(TRAFFIC)).outputs if o.topic == TOPICS.audit}
    assert said == {b"unchecked"}, "a would-be rejection judged without a trust store says so on the record"


def test_out_of_scope_batch_needs_no_lookup():
    """Other SRs than 6.15.1 and 6.21 are passed on from their leading fields: no look-up at all. (A 6.15.1
    to a GPF is out of scope too, but only the inventory can say the target is a GPF: it is looked up.)"""
    lookup = CountingLookup()
    out_of_scope = [i for i in TRAFFIC if i.sr.service_reference_variant not in CANDIDATE_VARIANTS][:50]
    result = judge(lookup=lookup)(inputs(out_of_scope))
    assert lookup.calls == 0 and result.accepted[Branch.OUT_OF_SCOPE.value] == 50


@pytest.mark.parametrize(
    ("value", "error_class"),
    [(b"\x00\x01garbage", "undecodable"), (None, "empty"), (b"", "empty"), (b"x" * 3000, "undecodable")],
)
def test_bad_input_goes_to_the_dlq_with_its_bytes_and_headers(value, error_class):
    item = Input(b"k", value, [("trace", b"t")], Source("in", 2, 41))
    result = judge(max_record_bytes=4096)([item])
    (out,) = result.outputs
    assert out.topic == TOPICS.dlq and out.value == value and out.key == b"k"
    headers = dict(out.headers)
    assert headers["srguard-error-class"] == error_class.encode() and headers["srguard-error"]
    assert (headers["srguard-source-topic"], headers["srguard-source-partition"], headers["srguard-source-offset"]) == (
        b"in",
        b"2",
        b"41",
    )
    assert headers["trace"] == b"t" and result.dead == [True]


def test_an_sr_too_large_to_forward_is_a_dead_letter_cut_to_the_limit():
    candidate = next(i for i in TRAFFIC if i.branch is Branch.OUT_OF_SCOPE)
    value = encode_service_request(candidate.sr)
    big = Input(b"k", value, [("trace", b"t" * 5000)], Source("in", 2, 41))
    result = judge(max_record_bytes=4096)([big])
    (out,) = result.outputs
    headers = dict(out.headers)
    assert out.topic == TOPICS.dlq and headers["srguard-error-class"] == b"too_large"
    assert record_size(out.key, out.value, out.headers) <= 4096
    assert "trace" not in headers and headers["srguard-truncated"] == str(len(value)).encode()
    assert value.startswith(out.value) and headers["srguard-source-offset"] == b"41"


def test_a_rejection_embeds_only_as_much_of_the_original_as_fits():
    candidate = next(i for i in TRAFFIC if i.branch is Branch.FOREIGN_OWNER)
    padded = replace(candidate.sr, payload=b"p" * 20_000)
    value = encode_service_request(padded)
    result = judge(max_record_bytes=8192)([Input(b"k", value, [], Source("in", 0, 7))])
    out, response = result.outputs
    assert out.topic == TOPICS.rejected, out.headers
    assert response.topic == TOPICS.responses and b"<sr:ResponseCode>E06" in response.value
    assert record_size(out.key, out.value, out.headers) <= 8192
    rejection = codec("SrRejection").decode(out.value)
    assert rejection["reason"] == Reason.FOREIGN_NETWORK_OPERATOR.value
    assert value.startswith(rejection["original"]) and 0 < len(rejection["original"]) < len(value)
    assert dict(out.headers)["srguard-original-truncated"] == str(len(value)).encode()
    assert (rejection["source_topic"], rejection["source_offset"]) == ("in", 7)


def test_a_fault_while_deciding_one_sr_dead_letters_that_sr_alone():
    class Exploding(CertificateReader):
        def read(self, der):
            raise RuntimeError("boom")

    candidates = [i for i in TRAFFIC if i.branch is Branch.REGISTERED_OWNER][:3]
    others = [i for i in TRAFFIC if i.branch is Branch.OUT_OF_SCOPE][:3]
    step = judge()
    step.reader = Exploding()
    result = step(inputs([*others, *candidates]))
    assert result.dead == [False] * 3 + [True] * 3
    assert [o.topic for o in result.outputs] == [TOPICS.accepted] * 3 + [TOPICS.dlq] * 3
    assert dict(result.outputs[-1].headers)["srguard-error"] == b"RuntimeError: boom"
    assert result.dlq == {"unexpected": 3}


def test_candidate_with_a_broken_tail_goes_to_the_dlq():
    candidate = next(i for i in TRAFFIC if i.branch is Branch.REGISTERED_OWNER)
    broken = encode_service_request(candidate.sr)[:-3]
    result = judge()([Input(b"k", broken, [], Source("in", 0, 1))])
    assert result.outputs[0].topic == TOPICS.dlq


def test_redis_failure_propagates_instead_of_rejecting():
    def down(_queries):
        raise ConnectionError("redis down")

    candidate = next(i for i in TRAFFIC if i.branch is Branch.REGISTERED_OWNER)
    with pytest.raises(ConnectionError):
        judge(lookup=down)(inputs([candidate]))


@given(st.sampled_from(TRAFFIC))
def test_peek_agrees_with_the_full_decode(item):
    data = encode_service_request(item.sr)
    head, full = peek(data), decode_service_request(data)
    assert (head.request_id, head.variant, head.user_role, head.device_type) == (
        full.request_id,
        full.service_reference_variant,
        full.user_role,
        full.target_device_type,
    )


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_peek_raises_only_decode_error(data):
    try:
        head = peek(data)
    except DecodeError as exc:  # any other exception type fails the test
        assert str(exc)
    else:
        assert head.user_role in USER_ROLES and head.device_type in DEVICE_TYPES


def test_dlq_guard_consecutive_limit():
    guard = DlqGuard(DlqPolicy(max_consecutive=5, max_ratio=1.0, window=100))
    guard.observe([True] * 4 + [False])
    guard.observe([True] * 4)
    with pytest.raises(DlqFlood, match="5 consecutive"):
        guard.observe([True])


def test_dlq_guard_ratio_limit_over_the_window():
    guard = DlqGuard(DlqPolicy(max_consecutive=1000, max_ratio=0.2, window=100))
    guard.observe([True, False, False, False] * 20)  # 25% but fewer than `window` SRs seen: no verdict yet
    with pytest.raises(DlqFlood, match="of the last"):
        guard.observe([True, False, False, False] * 10)
    calm = DlqGuard(DlqPolicy(max_consecutive=1000, max_ratio=0.2, window=100))
    for _ in range(20):
        calm.observe([True] + [False] * 9)  # 10%: fine forever


def test_incidents_are_counted_by_registered_operator_and_supplier():
    result = judge(Mode.AUDIT)(inputs(TRAFFIC))
    incidents = sum(1 for i in TRAFFIC if i.rejected)
    assert sum(result.incidents.values()) == incidents
    assert {s for _, s in result.incidents} <= set(POPULATION.suppliers), "suppliers by market id"
    registered = {r.network_operator_id for r in POPULATION.registrations()}
    assert {o for o, _ in result.incidents} <= {*registered, "none"}
