"""Hostile and malformed input, thousands of cases: each SR is accepted, rejected with a reason, or
dead-lettered with its bytes; the processing step never raises."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.config import Mode, Topics
from processor.devkit.simulate.population import build_population
from processor.domain.certificates import CertificateReader, KeyUsage, TrustStore
from processor.domain.decision import Policy, Reason
from processor.domain.model import (
    CertificateUsage,
    DeviceType,
    RemotePartyRole,
    ReplacementCertificate,
    ServiceRequest,
    UserRole,
)
from processor.domain.reference import separate_lookups
from processor.kafka.records import Input, Source
from processor.registration.publish import encode_registration
from processor.stream.dlq import record_size
from processor.stream.judge import Judge
from processor.stream.serde import encode_service_request
from tests.certificates import web_certificate_der

pytestmark = pytest.mark.slow

POPULATION = build_population(seed=21, meter_points=200)
POINTS = {p.mpxn: p for p in POPULATION.meter_points}
TOPICS = Topics()
LIMIT = 64 * 1024
NO_DER = next(iter(POPULATION.network_operators.values())).certificates[KeyUsage.DIGITAL_SIGNATURE]


WEB_DER = web_certificate_der()
JUDGE = Judge(
    TOPICS,
    Mode.ENFORCE,
    Policy(),
    CertificateReader(trust_store=TrustStore([POPULATION.pki.oca])),
    separate_lookups(POPULATION.registrations_in_force, POPULATION.directory),
    max_record_bytes=LIMIT,
)

certificate_bytes = st.one_of(
    st.binary(max_size=400),
    st.integers(1, len(NO_DER) - 1).map(lambda cut: NO_DER[:cut]),  # truncated DER
    st.just(WEB_DER),  # a valid X.509 certificate that is not SMKI
    st.just(NO_DER),
)
texts = st.one_of(st.text(max_size=40), st.sampled_from(["", "90-B3-D5-1F-30-01-00-00", "not-an-eui", "1" * 300]))
mpxns = st.one_of(st.none(), st.text(max_size=20), st.sampled_from([*list(POINTS)[:5], "1200000000021", "x"]))
service_requests = st.builds(
    ServiceRequest,
    request_id=texts,
    service_reference_variant=st.sampled_from(["6.15.1", "6.21", "8.1.1", "", "6.21 "]),
    command_variant=st.integers(-(2**31), 2**31 - 1),
    originator_id=texts,
    user_role=st.sampled_from(list(UserRole)),
    target_device_id=texts,
    target_device_type=st.sampled_from(list(DeviceType)),
    mpxn=mpxns,
    remote_party_role=st.one_of(st.none(), st.sampled_from(list(RemotePartyRole))),
    certificates=st.lists(
        st.builds(ReplacementCertificate, st.sampled_from(list(CertificateUsage)), certificate_bytes), max_size=3
    ).map(tuple),
    submitted_at=st.integers(-(2**63), 2**63 - 1),
    execution_datetime=st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    payload=st.one_of(st.none(), st.binary(max_size=200)),
)
valid_value = service_requests.map(encode_service_request)
hostile_values = st.one_of(
    st.binary(max_size=600),  # random bytes
    valid_value.flatmap(lambda v: st.integers(0, max(0, len(v) - 1)).map(lambda cut: v[:cut])),  # truncated Avro
    valid_value.map(lambda v: v + b"\x00trailing"),
    st.just(encode_registration(POPULATION.meter_points[0].registrations[0])),  # a record of another schema
    st.integers(LIMIT + 1, LIMIT + 5000).map(lambda n: b"\x02" * n),  # over the size limit
    st.none(),  # a tombstone
    valid_value,
)


def _check(values: list[bytes | None]) -> None:
    inputs = [Input(b"k", v, [], Source("in", 0, n)) for n, v in enumerate(values)]
    result = JUDGE(inputs)  # must not raise
    primary = [o for o in result.outputs if o.topic not in (TOPICS.audit, TOPICS.responses)]
    assert len(primary) == len(inputs), "every input ends up in exactly one place"
    responses = [o for o in result.outputs if o.topic == TOPICS.responses]
    assert len(responses) == sum(1 for o in primary if o.topic == TOPICS.rejected)  # a DUIS response each
    for item, out in zip(inputs, primary, strict=True):
        if out.topic == TOPICS.dlq:
            headers = dict(out.headers)
            assert headers["srguard-error"] and headers["srguard-error-class"]
            if "srguard-truncated" in headers:  # too large to keep whole: cut, and says so
                assert item.value is not None and item.value.startswith(out.value)
                assert headers["srguard-truncated"] == str(len(item.value)).encode()
            else:
                assert out.value == item.value
            continue
        assert record_size(out.key, out.value, out.headers) <= LIMIT
        if out.topic == TOPICS.accepted:
            assert out.value == item.value
        else:
            assert out.topic == TOPICS.rejected


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_values, min_size=1, max_size=4))
def test_hostile_values_never_break_the_batch_step(values):
    _check(values)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(service_requests)
def test_well_formed_but_hostile_srs_are_decided_with_a_reason(sr):
    result = JUDGE([Input(b"k", encode_service_request(sr), [], Source("in", 0, 0))])
    out, *response = result.outputs
    assert out.topic in (TOPICS.accepted, TOPICS.rejected)
    assert [r.topic for r in response] == ([TOPICS.responses] if out.topic == TOPICS.rejected else [])
    if out.topic == TOPICS.rejected:
        ((code, reason),) = result.rejected
        assert code.startswith(("E0615", "E0621")) and Reason(reason)


def test_a_non_smki_certificate_in_the_no_cells_is_rejected_as_malformed():
    point = next(p for p in POPULATION.meter_points if p.device_type is DeviceType.ESME)
    sr = ServiceRequest(
        "r",
        "6.21",
        1,
        "o",
        UserRole.IS,
        "t",
        DeviceType.ESME,
        point.mpxn,
        RemotePartyRole.NETWORK_OPERATOR,
        (ReplacementCertificate(CertificateUsage.DIGITAL_SIGNING, WEB_DER),),
        1_600_000_000_000,
    )
    result = JUDGE([Input(b"k", encode_service_request(sr), [], Source("in", 0, 0))])
    assert result.rejected == {("E062106", "malformed_certificate"): 1}
