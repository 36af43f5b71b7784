"""`explain` without a broker or Redis: run's judge over an in-memory world; every decision the batch judge makes
is the one explain gives, and each rejection says what would have made it pass."""

from __future__ import annotations

from processor.avro import PLAIN, codec
from processor.config import Mode
from processor.devkit.simulate.population import build_population
from processor.devkit.simulate.traffic import TrafficGenerator, TrafficMix
from processor.domain.certificates import CertificateReader, TrustStore
from processor.domain.decision import Branch, Decision, Outcome, Policy, Reason
from processor.domain.identifiers import Fuel
from processor.domain.model import Registration
from processor.domain.reference import separate_lookups
from processor.history.explain import explain, following, matches, would_pass
from processor.kafka.records import Input, Source
from processor.names import Schema, Topics
from processor.stream.judge import Judge
from processor.stream.serde import encode_service_request, peek
from processor.times import parse_time

POPULATION = build_population(seed=5, meter_points=300)
TRAFFIC = TrafficGenerator(POPULATION, TrafficMix(in_scope=0.6, incident_rate=0.5), seed=5).take(600)


def test_explain_gives_the_batch_judges_decision_for_every_sr_with_the_facts_around_it():
    reader = CertificateReader(trust_store=TrustStore([POPULATION.pki.oca]))
    reference = separate_lookups(POPULATION.registrations_in_force, POPULATION.directory)
    judge = Judge(Topics(), Mode.ENFORCE, Policy(), reader, reference)
    inputs = [
        Input(i.sr.target_device_id.encode(), encode_service_request(i.sr), [], Source("in", 0, n))
        for n, i in enumerate(TRAFFIC)
    ]
    batch = {}
    for output in judge(inputs).outputs:
        if output.topic == Topics().rejected:
            record = codec(Schema.SR_REJECTION).decode(output.value)
            batch[record["request_id"]] = ("rejected", record["response_code"], record["reason"])
        elif output.topic == Topics().accepted:
            batch[peek(output.value).request_id] = ("accepted", None, None)
    reasons = set()
    for item in inputs:
        found = explain(judge, lambda _mpxn, _at: None, item)
        request_id = found.request_id or peek(item.value).request_id
        assert (found.outcome, found.code, found.reason) == batch[request_id], request_id
        if found.outcome == "rejected":
            reasons.add(found.reason)
            assert found.would_pass and found.sr["as_of"] and found.certificates is not None
        if found.registration is not None:  # the registration in force is the judged MPxN's
            assert found.registration["mpxn"] == found.sr["mpxn"]
    assert "foreign_network_operator" in reasons and len(reasons) >= 5, reasons


def test_what_would_have_made_a_foreign_placement_pass_names_both_operators():
    at = parse_time("2026-11-02T10:00:00Z")
    decision = Decision(
        Outcome.REJECTED, Branch.FOREIGN_OWNER, at, "E062106", Reason.FOREIGN_NETWORK_OPERATOR,
        registered_network_operator_id="SEEB", certificate_party_ids=("LOND", "LOND"), mpxn="1200000000020",
    )  # fmt: skip
    said = would_pass(decision, at)
    assert "the registered NO for 1200000000020 on 2026-11-02T10:00:00" in said
    assert "SEEB" in said and "these certificates belong to LOND" in said


def test_the_next_registration_is_the_first_to_take_effect_after_the_time():
    changes = (("SEEB", 10), ("LOND", 30), ("EELC", 20))
    history = [Registration("1200000000020", Fuel.ELECTRICITY, no, None, at, 0) for no, at in changes]
    found = following(history, 15)
    assert found is not None and found.network_operator_id == "EELC"
    assert following(history, 30) is None


def test_a_request_id_matches_only_itself_never_a_longer_one_it_is_a_prefix_of():
    sr = TRAFFIC[0].sr
    value = encode_service_request(sr)
    assert matches(sr.request_id, False, PLAIN)(value)
    assert not matches(sr.request_id[:-1], False, PLAIN)(value)  # "A:B:1" is in "A:B:12", and is not it
    document = b"<sr:Request xmlns:sr='x'><sr:Header><sr:RequestID>A:B:12</sr:RequestID>"  # unreadable: delimited
    assert matches("A:B:12", True, PLAIN)(document) and not matches("A:B:1", True, PLAIN)(document)
