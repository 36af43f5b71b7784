"""DUIS XML in and out, without Kafka: the DCC's real templates through the judge, hostile XML, a fuzz run,
and the DUIS response against the DUIS XSD that the DCC's own tool carries."""

from __future__ import annotations

import random
import re
import zipfile
from collections import Counter

import pytest

from processor.avro import codec
from processor.config import Mode
from processor.domain.certificates import CertificateReader
from processor.domain.decision import Policy
from processor.domain.model import DeviceType
from processor.domain.reference import separate_lookups
from processor.duis.request import MAX_DOCUMENT_BYTES, parse, read
from processor.duis.response import response_xml
from processor.errors import DuisError
from processor.kafka.records import Input, Source
from processor.names import Topics
from processor.stream.judge import Judge
from processor.stream.serde import duis_reader
from tests.dcc_packages import duis_template
from tests.duis_world import (
    COMMISSION,
    DIRECTORY,
    ESME_MPAN,
    GPF_MPRN,
    HANDOVER,
    KRP_CANCELLATION,
    KRP_FUTURE,
    KRP_IMMEDIATE,
    NO_BY_NO,
    inventory_record,
    registrations,
    target_of,
    tool_jar,
    trust_store,
    with_cpv_checks,
    with_zaz1_certificates,
)

TOPICS = Topics()
NOW = 1_790_000_000_000  # 2026-09: the templates' NO certificates are valid then (2025-09 to 2035-09)
IN_2020 = 1_600_000_000_000  # the ZAZ1 Z1 NO certificates are valid then (2015-10 to 2025-10), not at NOW


def world_judge(operator: str = "ZAZNO", devices: dict | None = None, mode: Mode = Mode.ENFORCE) -> Judge:
    held = registrations(operator)
    return Judge(
        TOPICS,
        mode,
        Policy(),
        CertificateReader(trust_store=trust_store()),
        separate_lookups(
            lambda queries: [held.get(m or "") for m, _ in queries],
            lambda: DIRECTORY,
            lambda queries: [(devices or {}).get(d) for d, _ in queries],
        ),
        read=duis_reader,
    )


def judged(document: bytes, judge: Judge):
    return judge([Input(target_of(document).encode(), document, [], Source(TOPICS.requests, 0, 7), NOW)])


def handover(kind: DeviceType = DeviceType.ESME, mpxn: str = ESME_MPAN) -> tuple[bytes, dict]:
    document = duis_template(HANDOVER).encode()
    target = target_of(document)
    return document, {target: inventory_record(target, kind, mpxn)}


def no_certificates_krp(template: str) -> bytes:
    """A Supplier's 6.15.1 template made to place NO certificates (the ZAZ1 NO's, from the 6.21 template)."""
    text = duis_template(template).replace("<sr:RemotePartyRole>Supplier<", "<sr:RemotePartyRole>NetworkOperator<")
    no_certs = re.findall(r"<sr:(DigitalSigningCertificate|KeyAgreementCertificate)>([^<]+)<", duis_template(HANDOVER))
    for name, value in no_certs:
        text = re.sub(rf"<sr:{name}>[^<]+<", f"<sr:{name}>{value}<", text)
    return text.replace(
        re.search(r"<sr:KeyAgreementTopUpCertificate>[^<]+</sr:KeyAgreementTopUpCertificate>", text).group(0), ""
    ).encode()


@pytest.mark.parametrize("name", [HANDOVER, KRP_IMMEDIATE, KRP_FUTURE, KRP_CANCELLATION, NO_BY_NO])
def test_every_in_scope_template_parses(name):
    document = duis_template(name).encode()
    sr = parse(document, NOW)
    assert sr.service_reference_variant == read(document).variant in ("6.15.1", "6.21")
    assert sr.user_role is None and sr.target_device_type is None and sr.mpxn is None  # the DSP's data says these
    assert sr.target_device_id == target_of(document) and sr.submitted_at == NOW
    assert len(sr.certificates) >= 2 and all(c.der.startswith(b"\x30\x82") for c in sr.certificates)
    if "FUTURE" in name:
        assert sr.execution_datetime and sr.execution_datetime > NOW and sr.as_of == sr.execution_datetime
    assert sr.is_cancellation is ("CANCELLATION" in name)
    if sr.is_cancellation:  # about now: the year 3000 is DUIS's mark for "cancel", not a time to judge at
        assert sr.as_of == NOW


def test_the_registered_nos_certificates_pass_byte_identical():
    document, devices = handover()
    result = judged(document, world_judge(devices=devices))
    (out,) = result.outputs
    assert out.topic == TOPICS.accepted and out.value == document and result.accepted["registered_owner"] == 1


def test_another_nos_certificates_are_rejected_with_a_duis_response():
    document, devices = handover()
    result = judged(document, world_judge("LOND", devices))
    rejection, response = result.outputs
    record = codec("SrRejection").decode(rejection.value)
    assert rejection.topic == TOPICS.rejected and record["response_code"] == "E062106"
    assert record["reason"] == "foreign_network_operator" and record["original"] == document
    assert (record["user_role"], record["target_device_type"], record["mpxn"]) == ("IS", "ESME", ESME_MPAN)
    assert response.topic == TOPICS.responses and response.key == rejection.key
    assert b"<sr:ResponseCode>E062106</sr:ResponseCode>" in response.value
    assert b"<sr:RequestID>90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A3:1001</sr:RequestID>" in response.value


def test_audit_mode_emits_no_duis_response():
    document, devices = handover()
    result = judged(document, world_judge("LOND", devices, Mode.AUDIT))
    assert [o.topic for o in result.outputs] == [TOPICS.accepted, TOPICS.audit]


@pytest.mark.parametrize(
    ("document", "kind", "mpxn", "code"),
    [
        (duis_template(HANDOVER).encode(), DeviceType.GPF, ESME_MPAN, "E062108"),  # a GPF named with an MPAN
        (no_certificates_krp(KRP_IMMEDIATE), DeviceType.ESME, GPF_MPRN, "E061512"),  # an ESME with an MPRN
    ],
    ids=["6.21 GPF with an MPAN", "6.15.1 ESME with an MPRN"],
)
def test_a_device_of_the_other_fuel_is_rejected(document, kind, mpxn, code):
    target = target_of(document)
    result = judged(document, world_judge(devices={target: inventory_record(target, kind, mpxn)}))
    record = codec("SrRejection").decode(result.outputs[0].value)
    assert (record["response_code"], record["reason"]) == (code, "fuel_mismatch"), record["detail"]


def test_the_gpf_handover_of_the_registered_gas_transporter_passes():
    document, devices = handover(DeviceType.GPF, GPF_MPRN)
    assert judged(document, world_judge(devices=devices)).outputs[0].topic == TOPICS.accepted


@pytest.mark.parametrize(
    ("name", "as_of"),
    [(KRP_FUTURE, "execution"), (KRP_CANCELLATION, "receipt")],
    ids=["executes 2030: judged then", "a cancellation (3000-12-31): places nothing, judged now"],
)
def test_future_dated_variants_are_judged_at_their_execution_time_and_cancellations_now(name, as_of):
    document = no_certificates_krp(name)
    target = target_of(document)
    devices = {target: inventory_record(target, DeviceType.ESME, ESME_MPAN)}
    seen: list[int] = []
    judge = world_judge("LOND", devices=devices)  # the ZAZ NO's certificates are foreign here
    inner = judge.reference
    judge.reference = lambda queries, named: seen.extend(at for _, at in queries) or inner(queries, named)
    result = judged(document, judge)
    (out, *_) = result.outputs
    if as_of == "execution":
        assert seen == [parse(document, NOW).execution_datetime] and seen[0] > NOW
        assert codec("SrRejection").decode(out.value)["reason"] == "foreign_network_operator"
    else:
        assert seen == [NOW] and out.topic == TOPICS.accepted and out.value == document
        assert result.accepted["out_of_scope"] == 1


@pytest.mark.parametrize(
    ("apply_checks", "at", "reason"),
    [
        ("true", IN_2020, None),
        ("true", NOW, "certificate_not_valid_at_sr_time"),
        ("1", NOW, "certificate_not_valid_at_sr_time"),
        ("false", NOW, None),
        ("0", NOW, None),
    ],
)
def test_real_zaz1_certificates_are_checked_for_validity_when_the_sr_asks(apply_checks, at, reason):
    # the ZAZ1 Z1 network operator's own certificates: valid 2015-10 to 2025-10
    document = with_cpv_checks(with_zaz1_certificates(duis_template(HANDOVER), "Z1-networkOperator"), apply_checks)
    document = document.encode()
    assert parse(document, at).apply_time_based_cpv_checks is (apply_checks in ("true", "1"))
    target = target_of(document)
    judge = world_judge(devices={target: inventory_record(target, DeviceType.ESME, ESME_MPAN)})
    (out, *_) = judge([Input(target.encode(), document, [], Source(TOPICS.requests, 0, 7), at)]).outputs
    if reason is None:
        assert out.topic == TOPICS.accepted and out.value == document
    else:
        record = codec("SrRejection").decode(out.value)
        assert (record["reason"], record["response_code"]) == (reason, "E062106")
        assert "2025-10-29T23:59:59+00:00" in record["detail"], record["detail"]


def test_an_absent_cpv_flag_means_checks_and_a_bad_one_is_refused():
    flag = "<sr:ApplyTimeBasedCPVChecks>true</sr:ApplyTimeBasedCPVChecks>"
    template = duis_template(HANDOVER)
    assert parse(template.replace(flag, "").encode(), NOW).apply_time_based_cpv_checks is True
    with pytest.raises(DuisError, match="ApplyTimeBasedCPVChecks 'yes' is not an xs:boolean"):
        parse(template.replace(flag, "<sr:ApplyTimeBasedCPVChecks>yes</sr:ApplyTimeBasedCPVChecks>").encode(), NOW)


def test_the_nos_own_6_15_1_is_exempt_and_commissioning_is_out_of_scope():
    judge = world_judge("LOND")
    no_by_no = duis_template(NO_BY_NO).encode()
    result = judge([Input(b"k", no_by_no, [], Source("in", 0, 1), NOW)])
    assert result.outputs[0].value == no_by_no and result.accepted["exempt_network_operator"] == 1
    commission = duis_template(COMMISSION).encode()
    result = judge([Input(b"k", commission, [], Source("in", 0, 2), NOW)])
    assert result.outputs[0].value == commission and result.accepted["out_of_scope"] == 1 and result.lookups == 0


def test_an_absent_device_and_an_absent_originator_are_their_own_reasons():
    document, devices = handover()
    unknown_device = codec("SrRejection").decode(judged(document, world_judge()).outputs[0].value)
    assert unknown_device["reason"] == "unknown_device" and unknown_device["response_code"] == "E062108"
    stranger = document.replace(b"90-B3-D5-1F-30-01-00-00:", b"90-B3-D5-1F-30-01-00-42:")
    record = codec("SrRejection").decode(judged(stranger, world_judge(devices=devices)).outputs[0].value)
    assert record["reason"] == "unknown_originator" and "90-B3-D5-1F-30-01-00-42" in record["detail"]


BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
schemaVersion="5.4"><sr:Header><sr:ServiceReferenceVariant>6.21</sr:ServiceReferenceVariant></sr:Header>&lol3;</sr:Request>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://169.254.169.254/latest/meta-data/">]>
<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway" schemaVersion="5.4"><sr:Header>
<sr:ServiceReferenceVariant>8.2</sr:ServiceReferenceVariant></sr:Header>&x;</sr:Request>"""


def _hostile() -> list[tuple[str, bytes, str]]:
    """(name, document, where it must end: "dlq" or a rejection reason)."""
    base = duis_template(HANDOVER)
    return [
        ("billion laughs", BILLION_LAUGHS, "dlq"),
        ("external entity (XXE) on an out-of-scope SR", XXE, "dlq"),
        ("50 MB document", base.replace("<sr:Body>", "<sr:Body><!--" + "x" * (50 << 20) + "-->").encode(), "dlq"),
        ("wrong namespace", base.replace("http://www.dccinterface.co.uk/ServiceUserGateway", "urn:x").encode(), "dlq"),
        ("schema version 4", base.replace('schemaVersion="5.4"', 'schemaVersion="4.0"').encode(), "dlq"),
        ("unknown RemotePartyRole", base.replace(">NetworkOperator<", ">Landlord<").encode(), "dlq"),
        (
            "missing RemotePartyRole",
            re.sub(r"<sr:RemotePartyRole>[^<]*</sr:RemotePartyRole>", "", base).encode(),
            "missing_remote_party_role",
        ),
        ("RequestID of two parts", base.replace(":1001<", "<").encode(), "dlq"),
        ("RequestID with a bad EUI-64", base.replace("00-DB-12-34-56-78-90-A3", "00-DB-12").encode(), "dlq"),
        (
            "base64 that is not DER",
            re.sub(
                r"<sr:DigitalSigningCertificate>[^<]+<", "<sr:DigitalSigningCertificate>bm90IGRlcg==<", base
            ).encode(),
            "malformed_certificate",
        ),
        (
            "empty certificate element",
            re.sub(r"<sr:KeyAgreementCertificate>[^<]+<", "<sr:KeyAgreementCertificate><", base).encode(),
            "malformed_certificate",
        ),
        ("not XML at all", b"\x00\x01 garbage http://www.dccinterface.co.uk/ServiceUserGateway", "dlq"),
        ("truncated", base.encode()[: len(base) // 2], "dlq"),
        ("empty value", b"", "dlq"),
    ]


@pytest.mark.parametrize(("document", "ending"), [h[1:] for h in _hostile()], ids=[h[0] for h in _hostile()])
def test_hostile_and_broken_xml_ends_in_the_dlq_or_a_rejection(document, ending):
    _, devices = handover()
    result = world_judge(devices=devices)([Input(b"k", document, [], Source("in", 0, 3), NOW)])
    first = result.outputs[0]
    if ending == "dlq":
        assert first.topic == TOPICS.dlq and first.value == document[: len(first.value)]
        assert dict(first.headers)["srguard-error"]
    else:
        record = codec("SrRejection").decode(first.value)
        assert first.topic == TOPICS.rejected and record["reason"] == ending, record["detail"]


def test_dtds_and_oversized_documents_are_refused_before_any_parse():
    with pytest.raises(DuisError, match="DOCTYPE"):
        read(XXE)
    with pytest.raises(DuisError, match="exceeds"):
        read(b"x" * (MAX_DOCUMENT_BYTES + 1))
    utf16 = XXE.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")
    with pytest.raises(DuisError, match="DOCTYPE"):  # invisible to the byte screen, seen by the parser
        read(utf16)
    with pytest.raises(DuisError, match="DOCTYPE"):  # UTF-16 without a byte order mark starts with "<" too
        read(utf16.removeprefix(b"\xff\xfe"))


def _mutate(document: bytes, rng: random.Random) -> bytes:
    data = bytearray(document)
    for _ in range(rng.randint(1, 8)):
        if not data:
            break
        kind, at = rng.randrange(5), rng.randrange(len(data))
        if kind == 0:
            data[at] = rng.randrange(256)
        elif kind == 1:
            del data[at : at + rng.randint(1, 40)]
        elif kind == 2:
            data[at:at] = rng.choice([b"<", b">", b"&", b"<!DOCTYPE x>", b"&amp;", b"]]>", b"\xff\xfe", b"</sr:Body>"])
        elif kind == 3:
            start = rng.randrange(len(data))
            data[at:at] = data[start : start + rng.randint(1, 200)]
        else:
            data = data[:at]
    return bytes(data)


def test_ten_thousand_mutated_duis_documents_never_crash_and_never_pass_unjudged():
    _, devices = handover()
    judge = world_judge("LOND", devices)  # LOND registered: the unmutated document is a rejection
    seeds = [duis_template(name).encode() for name in (HANDOVER, KRP_IMMEDIATE, NO_BY_NO, COMMISSION)]
    seeds.append(no_certificates_krp(KRP_FUTURE))
    rng = random.Random(18)
    documents = [_mutate(rng.choice(seeds), rng) for _ in range(10_000)]
    outcomes: Counter[str] = Counter()
    for start in range(0, len(documents), 500):
        batch = documents[start : start + 500]
        result = judge([Input(b"k", d, [], Source("in", 0, start + n), NOW) for n, d in enumerate(batch)])
        primary = [o for o in result.outputs if o.topic != TOPICS.responses]
        assert len(primary) == len(batch)  # one outcome per document, in order
        for document, out in zip(batch, primary, strict=True):
            outcomes[out.topic] += 1
            if out.topic == TOPICS.accepted:  # only what the rule accepted, byte-identical
                assert out.value == document
                sr = duis_reader(Input(b"k", document, [], Source("in", 0, 0), NOW))
                assert sr is None or sr.remote_party_role is not None
    assert sum(outcomes.values()) == 10_000 and outcomes[TOPICS.dlq] > 1000 and outcomes[TOPICS.rejected] > 100
    print(f"10,000 mutated DUIS documents: {dict(outcomes)}")


def test_the_response_is_valid_duis_but_for_srguards_own_code():
    lxml = pytest.importorskip("lxml.etree")
    with zipfile.ZipFile(tool_jar()) as jar:
        schemas = {n: jar.read(n) for n in ("DUIS Schema V5.1.xsd", "MMC Schema V5.1.xsd", "xmldsig-core-schema.xsd")}

    class FromJar(lxml.Resolver):
        def resolve(self, url, _id, context):
            name = url.rsplit("/", 1)[-1].replace("%20", " ")
            return self.resolve_string(schemas[name], context) if name in schemas else None

    parser = lxml.XMLParser(no_network=True)
    parser.resolvers.add(FromJar())
    schema = lxml.XMLSchema(lxml.fromstring(schemas["DUIS Schema V5.1.xsd"], parser))
    ours = lxml.fromstring(response_xml("90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A3:1001", "E062106", "6.21", NOW))
    assert not schema.validate(ours)
    errors = [e.message for e in schema.error_log]
    assert len(errors) == 1 and "ResponseCode" in errors[0] and "E062106" in errors[0], errors
    duis_own = response_xml("90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A3:1001", "E4", "6.21", NOW)
    assert schema.validate(lxml.fromstring(duis_own)), list(schema.error_log)


def test_a_6_21_dated_3000_is_no_cancellation_and_its_foreign_certificates_are_rejected():
    document, devices = handover()
    dated = document.replace(
        b"<sr:RemotePartyRole>",
        b"<sr:ExecutionDateTime>3000-12-31T00:00:00.00Z</sr:ExecutionDateTime><sr:RemotePartyRole>",
    )
    assert b"3000-12-31" in dated and not parse(dated, NOW).is_cancellation
    first = judged(dated, world_judge("LOND", devices)).outputs[0]
    assert first.topic == TOPICS.rejected, "a 6.21 waved through as a cancellation"
