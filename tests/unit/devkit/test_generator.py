from __future__ import annotations

from collections import Counter

from processor.devkit.simulate.population import DISTRIBUTORS, WITHOUT_SMKI_CREDENTIALS, build_population
from processor.devkit.simulate.traffic import INCIDENT_REASONS, TrafficGenerator, TrafficMix
from processor.domain.certificates import CertificateReader, TrustStore
from processor.domain.decision import Branch, Reason
from processor.domain.identifiers import check_digits_ok
from processor.domain.rule import decide


def test_population_is_gb_like_and_deterministic():
    population = build_population(seed=4, meter_points=2000)
    assert [p.mpxn for p in population.meter_points] == [p.mpxn for p in build_population(4, 2000).meter_points]
    assert all(check_digits_ok(p.mpxn) for p in population.meter_points)
    electricity = [p for p in population.meter_points if len(p.mpxn) == 13]
    assert all(int(p.mpxn[:2]) in DISTRIBUTORS for p in electricity)
    assert any(len(p.registrations) > 1 for p in population.meter_points), "no change of NO generated"
    assert len(population.network_operators) == 27 + 8 - len(WITHOUT_SMKI_CREDENTIALS)
    registered = {r.network_operator_id for r in population.registrations()}
    assert set(WITHOUT_SMKI_CREDENTIALS) <= registered, "an IDNO without credentials serves no meter point"
    assert not any(population.directory().entities_of(party) for party in WITHOUT_SMKI_CREDENTIALS)


def test_labels_match_the_rule_for_every_branch_and_reason():
    population = build_population(seed=2, meter_points=3000)
    mix = TrafficMix(in_scope=0.4, incident_rate=0.4, exempt=0.02, other_role_certificates=0.02)
    reader = CertificateReader(trust_store=TrustStore([population.pki.oca]))
    directory = population.directory()
    points = {p.mpxn: p for p in population.meter_points}
    seen: Counter = Counter()
    for labelled in TrafficGenerator(population, mix, seed=3).take(6000):
        point = points.get(labelled.sr.mpxn or "")
        registration = point.registration_at(labelled.sr.as_of) if point else None
        decision = decide(labelled.sr, registration, directory, reader)
        assert (decision.branch, decision.reason) == (labelled.branch, labelled.reason), labelled
        seen[labelled.branch] += 1
        seen[labelled.reason] += 1
    assert set(Branch) <= set(seen), f"branches never generated: {set(Branch) - set(seen)}"
    missing = {*INCIDENT_REASONS, Reason.REGISTERED_NETWORK_OPERATOR_HAS_NO_CREDENTIALS} - set(seen)
    assert not missing, f"reasons never generated: {missing}"
    assert any(x.sr.execution_datetime for x in TrafficGenerator(population, mix, seed=3).take(2000))
