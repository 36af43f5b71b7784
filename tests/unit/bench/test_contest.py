"""The side-by-side bench's output comparison: a peer's figures count only if this finds its outputs equal
to srguard's, so it must see every kind of difference and forgive only the decision time."""

from __future__ import annotations

from collections import Counter

from bench.contest import _canonical, _difference
from processor.avro import codec

REJECTION = {
    "request_id": "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1",
    "service_reference_variant": "6.15.1",
    "response_code": "E061510",
    "reason": "foreign_network_operator",
    "detail": "certificate of X belongs to LOND, but 1200000000019 is registered to EELC",
    "originator_id": "90-B3-D5-1F-30-01-00-00",
    "user_role": "IS",
    "target_device_id": "00-DB-12-34-56-78-90-A0",
    "target_device_type": "ESME",
    "mpxn": "1200000000019",
    "registered_network_operator_id": "EELC",
    "certificate_entity_ids": ["90-B3-D5-1F-30-02-00-00"],
    "certificate_party_ids": ["LOND"],
    "as_of": 1_700_000_000_000,
    "decided_at": 1_800_000_000_000,
    "source_topic": "dcc.sr.requests",
    "source_partition": 0,
    "source_offset": 7,
    "original": b"sr",
    "submitted_at": 1_700_000_000_000,
}
RESPONSE = (
    b"<sr:Response><sr:Header><sr:RequestID>r1</sr:RequestID><sr:ResponseCode>E061510</sr:ResponseCode>"
    b"<sr:ResponseDateTime>%s</sr:ResponseDateTime></sr:Header></sr:Response>"
)


def outputs(rejection: dict[str, object], moment: bytes = b"2030-01-15T00:00:00.000Z") -> Counter[tuple[object, ...]]:
    value = codec("SrRejection").encode(rejection)
    return Counter(
        [
            ("accepted", b"k1", _canonical("accepted", b"sr-1"), (("srguard-outcome", b"accepted"),)),
            ("rejected", b"k2", _canonical("rejected", value), (("srguard-outcome", b"rejected"),)),
            ("responses", b"k2", _canonical("responses", RESPONSE % moment), ()),
        ]
    )


def test_outputs_differing_only_in_the_decision_time_are_equal_and_repeats_are_counted_apart():
    ours = outputs(REJECTION)
    theirs = outputs(REJECTION | {"decided_at": 1_900_000_000_000}, b"2031-02-01T00:00:00.000Z")
    theirs[next(iter(theirs))] += 1  # an at-least-once repeat of the first record
    assert _difference(ours, theirs, "records") == "records equal (1 repeated records)"


def test_any_other_field_or_a_missing_record_is_a_difference():
    ours = outputs(REJECTION)
    assert _difference(ours, outputs(REJECTION | {"detail": "other words"}), "records").startswith("DIFFER")
    fewer = Counter({r: n for r, n in ours.items() if r[0] != "responses"})
    assert "'responses': 1" in _difference(ours, fewer, "records")


def test_decisions_compare_code_reason_and_evidence_but_not_the_detail_text():
    ours = outputs(REJECTION)
    assert _difference(ours, outputs(REJECTION | {"detail": "other words"}), "decisions") == "decisions equal"
    other_owner = REJECTION | {"certificate_party_ids": ["SEEB"]}
    assert _difference(ours, outputs(other_owner), "decisions").startswith("DIFFER")
    other_reason = REJECTION | {"reason": "unknown_entity"}
    assert _difference(ours, outputs(other_reason), "decisions").startswith("DIFFER")
