"""The SR's subject from the DSP's data: role from the party directory, device type and MPxN from the
inventory; every way the data can fail to place an SR is its own reason (issue 18)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from processor.domain.decision import Branch, Outcome, Reason
from processor.domain.model import Device, DeviceStatus, DeviceType, Party, PartyDirectory, RemotePartyRole, UserRole
from processor.domain.rule import decide
from processor.domain.subject import role_for, subject_of
from tests.unit.domain.test_rule import DIRECTORY, MPAN, MPRN, READER, T0, registration_at, sr

TARGET = "00-12-4B-00-00-00-00-01"


def device(kind: DeviceType = DeviceType.ESME, *mpxns: str) -> Device:
    return Device(TARGET, kind, mpxns or (MPAN,), DeviceStatus.COMMISSIONED, T0 - 1000, 1)


def duis(**fields) -> object:
    """An SR as DUIS carries it: no role, no device type, no MPxN."""
    return replace(sr(**fields), user_role=None, target_device_type=None, mpxn=None)


def judge(request, inventory: Device | None):
    subject = subject_of(request, inventory, DIRECTORY)
    return decide(request, registration_at(subject.mpxn, request.as_of), DIRECTORY, READER, device=inventory)


CASES = [
    # id, SR, inventory record, outcome, branch, code, reason
    ("DUIS 6.21 to an ESME, registered NO", duis(), device(), Outcome.ACCEPTED, Branch.REGISTERED_OWNER, None, None),
    (
        "DUIS 6.21 to an ESME, another NO",
        duis(placed=("SEEB",)),
        device(),
        Outcome.REJECTED,
        Branch.FOREIGN_OWNER,
        "E062106",
        Reason.FOREIGN_NETWORK_OPERATOR,
    ),
    (
        "DUIS 6.21 to a GPF, registered GT",
        duis(placed=("CADT",)),
        device(DeviceType.GPF, MPRN),
        Outcome.ACCEPTED,
        Branch.REGISTERED_OWNER,
        None,
        None,
    ),
    (
        "DUIS 6.21 to a GPF that the inventory holds with an MPAN",
        duis(),
        device(DeviceType.GPF, MPAN),
        Outcome.REJECTED,
        Branch.SUBJECT_FAULT,
        "E062108",
        Reason.FUEL_MISMATCH,
    ),
    (
        "DUIS 6.15.1 to an ESME that the inventory holds with an MPRN",
        duis(variant="6.15.1", placed=("CADT",)),
        device(DeviceType.ESME, MPRN),
        Outcome.REJECTED,
        Branch.SUBJECT_FAULT,
        "E061512",
        Reason.FUEL_MISMATCH,
    ),
    (
        "DUIS SR to a device the inventory does not hold",
        duis(),
        None,
        Outcome.REJECTED,
        Branch.SUBJECT_FAULT,
        "E062108",
        Reason.UNKNOWN_DEVICE,
    ),
    (
        "DUIS SR from an originator the directory does not hold",
        replace(duis(), originator_id="90-B3-D5-1F-30-01-00-99"),
        device(),
        Outcome.REJECTED,
        Branch.SUBJECT_FAULT,
        "E062108",
        Reason.UNKNOWN_ORIGINATOR,
    ),
    (
        "DUIS SR replacing Supplier cells of an unknown device: untouched",
        duis(party=RemotePartyRole.SUPPLIER, placed=("BGAS",)),
        None,
        Outcome.ACCEPTED,
        Branch.NO_NETWORK_OPERATOR_CERTIFICATES,
        None,
        None,
    ),
    (
        "DUIS 6.15.1 to a GPF (the inventory says so): out of scope",
        duis(variant="6.15.1", placed=("SEEB",)),
        device(DeviceType.GPF, MPRN),
        Outcome.ACCEPTED,
        Branch.OUT_OF_SCOPE,
        None,
        None,
    ),
    (
        "DUIS 6.21 to a CHF: out of scope",
        duis(placed=("SEEB",)),
        device(DeviceType.CHF),
        Outcome.ACCEPTED,
        Branch.OUT_OF_SCOPE,
        None,
        None,
    ),
    (
        "DUIS 6.15.1 by an NO (the directory's role): exempt",
        replace(duis(variant="6.15.1", placed=("SEEB",)), originator_id="90-B3-D5-1F-30-02-00-01"),
        device(),
        Outcome.ACCEPTED,
        Branch.EXEMPT_NETWORK_OPERATOR,
        None,
        None,
    ),
    (
        "Avro SR naming a GPF where the inventory holds an ESME",
        sr(device=DeviceType.GPF, role=UserRole.GS),
        device(),
        Outcome.REJECTED,
        Branch.SUBJECT_FAULT,
        "E062108",
        Reason.REQUEST_CONTRADICTS_INVENTORY,
    ),
    (
        "Avro SR naming another MPxN than the inventory's",
        sr(mpxn="2312345678900"),
        device(),
        Outcome.REJECTED,
        Branch.SUBJECT_FAULT,
        "E062108",
        Reason.REQUEST_CONTRADICTS_INVENTORY,
    ),
    (
        "Avro SR to a GPF named with an MPAN, device not in the inventory",
        sr(device=DeviceType.GPF, role=UserRole.GS, mpxn=MPAN),
        None,
        Outcome.REJECTED,
        Branch.SUBJECT_FAULT,
        "E062108",
        Reason.FUEL_MISMATCH,
    ),
    (
        "Avro SR, device not in the inventory: its own fields stand",
        sr(),
        None,
        Outcome.ACCEPTED,
        Branch.REGISTERED_OWNER,
        None,
        None,
    ),
    (
        "ESME serving two MPxNs, none named the import one: not judged on a guess",
        duis(),
        device(DeviceType.ESME, MPRN, MPAN),
        Outcome.REJECTED,
        Branch.SUBJECT_FAULT,
        "E062108",
        Reason.INVENTORY_NAMES_NO_IMPORT_MPXN,
    ),
]


@pytest.mark.parametrize(
    ("request_", "inventory", "outcome", "branch", "code", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_subject_cases(request_, inventory, outcome, branch, code, reason):
    decision = judge(request_, inventory)
    assert (decision.outcome, decision.branch, decision.code, decision.reason) == (outcome, branch, code, reason), (
        decision.detail
    )


def test_a_decision_records_the_subject_it_judged():
    decision = judge(duis(placed=("SEEB",)), device())
    assert (decision.user_role, decision.device_type, decision.mpxn) == ("IS", "ESME", MPAN)
    unknown = judge(replace(duis(), originator_id="90-B3-D5-1F-30-01-00-99"), device())
    assert unknown.user_role == "" and "90-B3-D5-1F-30-01-00-99" in unknown.detail


def test_without_an_inventory_entry_the_subject_says_so():
    assert not subject_of(sr(), None, DIRECTORY).from_inventory
    assert subject_of(sr(), device(), DIRECTORY).from_inventory


EXPORT_MPAN = "2312345678900"  # registered to nobody in this world


def import_export(import_mpxn: str | None) -> Device:
    return replace(device(DeviceType.ESME, EXPORT_MPAN, MPAN), import_mpxn=import_mpxn)


def test_an_import_export_esme_is_judged_on_its_import_mpan_whatever_the_order():
    for listed in ((EXPORT_MPAN, MPAN), (MPAN, EXPORT_MPAN)):
        inventory = replace(import_export(MPAN), mpxns=listed)
        decision = judge(duis(placed=("LOND",)), inventory)  # LOND holds MPAN (the import MPAN) at T0
        assert (decision.outcome, decision.mpxn) == (Outcome.ACCEPTED, MPAN)
        assert judge(duis(placed=("SEEB",)), inventory).reason is Reason.FOREIGN_NETWORK_OPERATOR


def test_an_avro_sr_naming_the_export_mpan_contradicts_the_inventory():
    decision = judge(sr(mpxn=EXPORT_MPAN), import_export(MPAN))
    assert decision.reason is Reason.REQUEST_CONTRADICTS_INVENTORY and "import MPxN is 1200000000020" in decision.detail


def test_two_mpxns_without_an_import_label_are_counted_apart_from_other_contradictions():
    decision = judge(duis(), import_export(None))
    assert (decision.code, decision.reason) == ("E062108", Reason.INVENTORY_NAMES_NO_IMPORT_MPXN)
    assert EXPORT_MPAN in decision.detail and MPAN in decision.detail


def test_a_dual_fuel_supplier_acts_in_the_role_of_its_target_fuel():
    assert subject_of(duis(), device(DeviceType.ESME, MPAN), DIRECTORY).user_role is UserRole.IS
    assert subject_of(duis(), device(DeviceType.GPF, MPRN), DIRECTORY).user_role is UserRole.GS
    assert role_for(("ED", "IS"), None) is UserRole.IS  # could be either: the judged role, never the exempt one
    assert role_for(("GT", "ED"), DeviceType.GPF) is UserRole.GT


def test_an_avro_role_the_directory_contradicts_is_rejected_not_exempted():
    claimed_no = replace(sr("6.15.1", placed=("SEEB",)), user_role=UserRole.ED)  # BGAS, a supplier, says ED
    decision = judge(claimed_no, device())
    assert (decision.outcome, decision.reason) == (Outcome.REJECTED, Reason.REQUEST_CONTRADICTS_PARTY_DIRECTORY)
    assert "names role ED" in decision.detail and "IS, GS" in decision.detail
    stranger = replace(claimed_no, originator_id="90-B3-D5-1F-30-01-00-77")  # not in the directory at all
    assert judge(stranger, device()).reason is Reason.UNKNOWN_ORIGINATOR
    assert judge(replace(claimed_no, user_role=UserRole.GS), device()).outcome is Outcome.REJECTED  # held: judged


def test_one_party_holding_an_entity_as_ed_and_gt_is_one_owner():
    entity = "90-B3-D5-1F-30-02-00-01"  # LOND's
    both = PartyDirectory(
        {
            **{e: DIRECTORY.holders(e, T0) for e in DIRECTORY.entities_of("BGAS")},
            entity: (Party("LOND", "ED"), Party("LOND", "GT")),
        }
    )
    subject = subject_of(duis(), device(), both)
    decision = decide(duis(placed=("LOND",)), registration_at(MPAN, T0), both, READER, device=device())
    assert subject.user_role is UserRole.IS and decision.outcome is Outcome.ACCEPTED
    assert both.owner(entity, T0) == Party("LOND", "ED") and both.roles(entity, T0) == ("ED", "GT")
