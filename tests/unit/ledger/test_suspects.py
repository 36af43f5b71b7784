"""The suspects' rules as a table: what each piece of evidence is worth, what counts once, what lists an MPxN."""

from __future__ import annotations

import pytest

from processor.ledger.suspects import THRESHOLD, Evidence, Rule, data_owner, find_suspects, from_rejections

MPAN, MPRN = "1200000000020", "12345674"
DEVICE = "00-00-00-00-00-00-00-09"
DAY = 86_400_000


def supplier(by: str, request: str = "", pointed: str = "SEEB", mpxn: str = MPAN, at: int = DAY) -> Evidence:
    return Evidence(Rule.SUPPLIERS, mpxn, "LOND", pointed, by, at, request or f"{by}:{at}")


def operator(request: str, pointed: str = "SEEB") -> Evidence:
    return Evidence(Rule.OPERATOR, MPAN, "LOND", pointed, pointed, 2 * DAY, request)


def ledger(device: str, cell: str = "ds") -> Evidence:
    return Evidence(Rule.LEDGER, MPAN, "LOND", "SEEB", device, 0, f"{device} {cell}")


CASES = [  # (evidence, listed?, score)
    ([supplier("BGAS")], False, 2),
    ([supplier("BGAS"), supplier("BGAS", at=5 * DAY)], False, 2),  # a Supplier's retries are one Supplier
    ([supplier("BGAS"), supplier("EDFE")], True, 4),
    ([supplier("BGAS"), supplier("EDFE", pointed="EELC")], False, 2),  # two NOs pointed at: two weak cases
    ([operator("a")], False, 3),
    ([operator("a"), operator("b")], True, 6),  # the NO's own SRs, each counted
    ([operator("a"), supplier("OVOS")], True, 5),
    ([ledger("d1")], False, 3),  # the ledger alone: registration or certificates wrong? not listed
    ([ledger("d1", "ds"), ledger("d1", "ka")], False, 3),  # one device's two cells are one
    ([ledger("d1"), supplier("OVOS")], True, 5),
]


@pytest.mark.parametrize(("evidence", "listed", "points"), CASES)
def test_each_rule_scores_what_it_documents_and_only_independent_evidence_adds_up(evidence, listed, points):
    found = find_suspects(evidence)
    assert [s.score for s in found.suspects] == ([points] if listed else [])
    assert found.below_threshold == (0 if listed else len({(e.mpxn, e.pointed) for e in evidence}))
    assert THRESHOLD == 4


def test_a_registration_corrected_since_is_counted_not_listed():
    evidence = [supplier("BGAS"), supplier("EDFE"), supplier("OVOS", mpxn=MPRN), supplier("EONN", mpxn=MPRN)]
    found = find_suspects(evidence, lambda queries: ["SEEB" if m == MPAN else "LOND" for m, _ in queries], DAY)
    assert [s.mpxn for s in found.suspects] == [MPRN] and found.corrected == 1
    suspect = found.suspects[0]
    assert suspect.registered == "LOND" and suspect.pointed == "SEEB" and suspect.fuel == "GAS"
    assert found.by("registered") == {"LOND": 1} and found.by("pointed") == {"SEEB": 1}


def test_the_data_owner_is_the_mpans_distributor_or_the_gas_transporters_agent():
    assert data_owner("1900000000000", "LOND") == "SEEB (MPAS, distributor 19)"  # the area's MPAS, not the NO named
    assert data_owner(MPRN, "CADT") == "CDSP for CADT"


def _record(**over):
    record = {
        "reason": "foreign_network_operator", "mpxn": MPAN, "registered_network_operator_id": "LOND",
        "certificate_party_ids": ["SEEB", "SEEB"], "as_of": DAY, "originator_id": "00-00-00-00-00-00-00-01",
        "request_id": "00-00-00-00-00-00-00-01:00-00-00-00-00-00-00-02:1",
    }  # fmt: skip
    return record | over


@pytest.mark.parametrize(
    ("change", "pointed"),
    [
        ({}, "SEEB"),
        ({"reason": "unknown_entity"}, None),  # not another NO's certificates
        ({"certificate_party_ids": ["SEEB", "EELC"]}, None),  # two NOs at once: points nowhere
        ({"certificate_party_ids": ["SEEB", ""]}, None),  # an unreadable one
        ({"registered_network_operator_id": None}, None),  # nothing registered: nothing contradicted
        ({"mpxn": None}, None),
    ],
)
def test_a_rejection_is_evidence_only_when_its_certificates_point_at_one_other_no(change, pointed):
    found = list(from_rejections([_record(**change)], lambda entity, at: "BGAS"))
    assert [e.pointed for e in found] == ([pointed] if pointed else [])
    assert all(e.by == "BGAS" and e.rule is Rule.SUPPLIERS for e in found)


# The placement and ledger rules, on a small simulated world's real certificates and directory
@pytest.fixture(scope="module")
def world():
    from processor.devkit.simulate.population import build_population

    population = build_population(seed=2, meter_points=100)
    return population, population.directory()


def _placement(population, originator, role, placed, variant="6.15.1"):
    from processor.domain.certificates import KeyUsage
    from processor.domain.model import CertificateUsage, RemotePartyRole, ReplacementCertificate, ServiceRequest

    der = placed.certificates[KeyUsage.DIGITAL_SIGNATURE]
    return ServiceRequest(
        request_id=f"{originator.entity_id}:{DEVICE}:1", service_reference_variant=variant,
        command_variant=1, originator_id=originator.entity_id, user_role=role, target_device_id=DEVICE,
        target_device_type="ESME", mpxn=MPAN, remote_party_role=RemotePartyRole.NETWORK_OPERATOR,
        certificates=(ReplacementCertificate(CertificateUsage.DIGITAL_SIGNING, der),), submitted_at=DAY,
    )  # fmt: skip


def test_an_nos_own_placement_is_evidence_only_with_its_own_certificates_where_another_is_registered(world):
    from processor.ledger.suspects import from_placements

    population, directory = world
    seeb, lond = population.network_operators["SEEB"], population.network_operators["LOND"]
    supplier = next(iter(population.suppliers.values()))

    def found(sr, registered="LOND"):
        return [(e.rule, e.pointed, e.registered) for e in from_placements([sr], directory, lambda q: [registered])]

    assert found(_placement(population, seeb, "ED", seeb)) == [(Rule.OPERATOR, "SEEB", "LOND")]
    assert found(_placement(population, seeb, "ED", seeb), registered="SEEB") == []  # its own MPxN
    assert found(_placement(population, seeb, "ED", lond)) == []  # not its own certificates: says nothing of it
    assert found(_placement(population, supplier, "IS", seeb)) == []  # a Supplier's SR: judged, not exempt
    assert found(_placement(population, seeb, "ED", seeb, variant="6.21")) == []  # only 6.15.1 is exempt


def test_a_ledger_cell_is_evidence_when_read_or_confirmed_long_enough_and_another_nos(world):
    from processor.ledger.model import DeviceCells, Holding, Placement, Status
    from processor.ledger.population import DeviceView, State
    from processor.ledger.suspects import from_ledger

    population, directory = world
    seeb, supplier = population.network_operators["SEEB"], next(iter(population.suppliers.values()))
    now = 400 * DAY

    def found(holding, registered="LOND"):
        view = DeviceView("D1", "ESME", MPAN, registered, "BGAS", DeviceCells(ds=holding), {}, State.WRONG, (), ())
        return [(e.pointed, e.by) for e in from_ledger([view], directory, now, 30)]

    def held(entity, status, at):
        return Holding(entity, Placement(at, "", 0, status))

    assert found(held(seeb.entity_id, Status.BASELINE, now - DAY)) == [("SEEB", "D1")]  # read: what it holds
    assert found(held(seeb.entity_id, Status.CONFIRMED, now - 40 * DAY)) == [("SEEB", "D1")]
    assert found(held(seeb.entity_id, Status.CONFIRMED, now - 10 * DAY)) == []  # not yet stood 30 days
    pending = Holding(
        supplier.entity_id, Placement(now, "x", 1, Status.PENDING), held(seeb.entity_id, Status.BASELINE, 0)
    )
    assert found(pending) == [("SEEB", "D1")]  # a pending placement may still fail: what was there counts
    assert found(held(supplier.entity_id, Status.BASELINE, 0)) == []  # a Supplier's certificates: not an NO's
    assert found(held(seeb.entity_id, Status.BASELINE, 0), registered="SEEB") == []  # the registered NO's
    assert found(held(seeb.entity_id, Status.BASELINE, 0), registered="(unregistered)") == []


def test_the_files_hold_every_suspect_its_evidence_and_the_rules(tmp_path):
    import csv
    import json

    from processor.ledger.suspects_page import write_suspects

    found = find_suspects([supplier("BGAS"), supplier("EDFE"), operator("a"), supplier("OVOS", mpxn=MPRN)])
    written = write_suspects(found, {"threshold": "4"}, tmp_path)
    assert {p.name for p in written} == {"suspects.csv", "suspects-evidence.csv", "suspects.json", "suspects.html"}
    rows = list(csv.DictReader((tmp_path / "suspects.csv").open()))
    assert [(r["mpxn"], r["pointed_no"], r["score"], r["supplier_placed_another_no_count"]) for r in rows] == [
        (MPAN, "SEEB", "7", "2")
    ]
    assert len(list(csv.DictReader((tmp_path / "suspects-evidence.csv").open()))) == 3
    data = json.loads((tmp_path / "suspects.json").read_text())
    assert data["below_threshold"] == 1 and data["rules"]["no_placed_its_own"]["points"] == 3
    page = (tmp_path / "suspects.html").read_text()
    assert MPAN in page and MPRN not in page and "no_placed_its_own" in page
    assert "{{" not in page and "}}" not in page, "a template brace reached the page"


def test_a_truth_file_that_is_no_csv_is_one_line(tmp_path):
    import typer

    from processor.cli.suspects import _truth

    (tmp_path / "truth.csv").write_bytes(b"\xff\xfe\x00 not text")
    with pytest.raises(typer.Exit) as stopped:
        _truth(tmp_path / "truth.csv")
    assert stopped.value.exit_code == 2
