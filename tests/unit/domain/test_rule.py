"""SECMP0063's rule, case by case: one row per branch and every case the issue names."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.devkit.simulate.pki import SmkiPki
from processor.domain.certificates import CertificateReader, KeyUsage, OrganisationRole, TrustStore
from processor.domain.decision import Branch, MissingRegistration, Outcome, Policy, Reason
from processor.domain.identifiers import Fuel
from processor.domain.model import (
    CertificateUsage,
    DeviceType,
    Party,
    PartyDirectory,
    Registration,
    RemotePartyRole,
    ReplacementCertificate,
    ServiceRequest,
    UserRole,
)
from processor.domain.rule import decide, is_candidate, is_target

DAY = 86_400_000
T0 = 1_600_000_000_000  # 2020-09-13
CHANGE = T0 + 30 * DAY  # MPAN's NO changes from LOND to SEEB
MPAN, MPRN = "1200000000020", "3938424403"
BEFORE_VALIDITY = 1_400_000_000_000  # 2014: the generated certificates are valid 2015-01-01 to 2045-01-01
AFTER_VALIDITY = 2_400_000_000_000  # 2046

PKI, ROGUE = SmkiPki(seed=11), SmkiPki(seed=11, name="ROGUE")
ENTITY = {
    "LOND": "90B3D51F30020001",
    "SEEB": "90B3D51F30020002",
    "CADT": "90B3D51F30020003",
    "SGNL": "90B3D51F30020004",
    "BGAS": "90B3D51F30010001",
    "ACB": "90B3D51F30000002",
    "NOBODY": "90B3D51F300200FF",
}
ROLE = {"LOND": "ED", "SEEB": "ED", "CADT": "GT", "SGNL": "GT", "BGAS": "IS GS", "ACB": "OU"}  # BGAS: dual fuel
SMKI_ROLE = {"BGAS": OrganisationRole.SUPPLIER, "ACB": OrganisationRole.ACCESS_CONTROL_BROKER}


def certs(owner: str, pki: SmkiPki = PKI) -> tuple[ReplacementCertificate, ...]:
    role = SMKI_ROLE.get(owner, OrganisationRole.NETWORK_OPERATOR)
    ds, ka = (pki.issue(ENTITY[owner], role, usage) for usage in (KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_AGREEMENT))
    return (
        ReplacementCertificate(CertificateUsage.DIGITAL_SIGNING, ds),
        ReplacementCertificate(CertificateUsage.KEY_AGREEMENT, ka),
    )


DIRECTORY = PartyDirectory(
    {
        f"{e[:2]}-{e[2:4]}-{e[4:6]}-{e[6:8]}-{e[8:10]}-{e[10:12]}-{e[12:14]}-{e[14:]}": tuple(
            Party(p, role) for role in ROLE[p].split()
        )
        for p, e in ENTITY.items()
        if p != "NOBODY"
    }
)
REGISTRATIONS = {
    MPAN: [
        Registration(MPAN, Fuel.ELECTRICITY, "LOND", "BGAS", T0 - 365 * DAY, 1),
        Registration(MPAN, Fuel.ELECTRICITY, "SEEB", "BGAS", CHANGE, 2),
    ],
    MPRN: [Registration(MPRN, Fuel.GAS, "CADT", "BGAS", T0 - 365 * DAY, 3)],
}
READER = CertificateReader(trust_store=TrustStore([PKI.oca]))


def registration_at(mpxn: str | None, at: int) -> Registration | None:
    in_force = [r for r in REGISTRATIONS.get(mpxn or "", []) if r.effective_from <= at]
    return max(in_force, key=lambda r: r.effective_from) if in_force else None


def sr(
    variant="6.21",
    role=UserRole.IS,
    device=DeviceType.ESME,
    mpxn=MPAN,
    party=RemotePartyRole.NETWORK_OPERATOR,
    placed=("LOND",),
    submitted=T0,
    execution=None,
    cpv=True,
) -> ServiceRequest:
    certificates = (
        placed
        if isinstance(placed, tuple) and placed and isinstance(placed[0], ReplacementCertificate)
        else certs(placed[0])
        if placed
        else ()
    )
    originator = {UserRole.ED: "90-B3-D5-1F-30-02-00-01", UserRole.GT: "90-B3-D5-1F-30-02-00-03"}.get(
        role,
        "90-B3-D5-1F-30-01-00-01",  # LOND and CADT send as NOs; BGAS as a supplier
    )
    return ServiceRequest(
        request_id=f"{originator}:00-12-4B-00-00-00-00-01:1",
        service_reference_variant=variant,
        command_variant=1,
        originator_id=originator,
        user_role=role,
        target_device_id="00-12-4B-00-00-00-00-01",
        target_device_type=device,
        mpxn=mpxn,
        remote_party_role=party,
        certificates=certificates,
        submitted_at=submitted,
        execution_datetime=execution,
        apply_time_based_cpv_checks=cpv,
    )


REJECT_MISSING = Policy()


def judge(request: ServiceRequest, policy: Policy = REJECT_MISSING):
    return decide(request, registration_at(request.mpxn, request.as_of), DIRECTORY, READER, policy)


CASES = [
    # id, SR, outcome, branch, code, reason
    ("6.21 ESME, registered NO's certs", sr(), Outcome.ACCEPTED, Branch.REGISTERED_OWNER, None, None),
    ("6.15.1 ESME, registered NO's certs", sr("6.15.1"), Outcome.ACCEPTED, Branch.REGISTERED_OWNER, None, None),
    (
        "6.21 GPF, registered GT's certs",
        sr(device=DeviceType.GPF, mpxn=MPRN, role=UserRole.GS, placed=("CADT",)),
        Outcome.ACCEPTED,
        Branch.REGISTERED_OWNER,
        None,
        None,
    ),
    (
        "6.21 GPF with another GT's certs",
        sr(device=DeviceType.GPF, mpxn=MPRN, role=UserRole.GS, placed=("SGNL",)),
        Outcome.REJECTED,
        Branch.FOREIGN_OWNER,
        "E062106",
        Reason.FOREIGN_NETWORK_OPERATOR,
    ),
    (
        "6.15.1 ESME, another DNO's certs",
        sr("6.15.1", placed=("SEEB",)),
        Outcome.REJECTED,
        Branch.FOREIGN_OWNER,
        "E061510",
        Reason.FOREIGN_NETWORK_OPERATOR,
    ),
    (
        "ED-sent 6.15.1 with a foreign NO cert",
        sr("6.15.1", role=UserRole.ED, placed=("SEEB",)),
        Outcome.ACCEPTED,
        Branch.EXEMPT_NETWORK_OPERATOR,
        None,
        None,
    ),
    (
        "GT-sent 6.15.1 with a supplier cert",
        sr("6.15.1", role=UserRole.GT, placed=("BGAS",)),
        Outcome.ACCEPTED,
        Branch.EXEMPT_NETWORK_OPERATOR,
        None,
        None,
    ),
    (
        "6.15.1 to a GPF is out of scope",
        sr("6.15.1", device=DeviceType.GPF, mpxn=MPRN, placed=("SGNL",)),
        Outcome.ACCEPTED,
        Branch.OUT_OF_SCOPE,
        None,
        None,
    ),
    (
        "6.21 to a GSME is out of scope",
        sr(device=DeviceType.GSME, placed=("SEEB",)),
        Outcome.ACCEPTED,
        Branch.OUT_OF_SCOPE,
        None,
        None,
    ),
    ("other variant is out of scope", sr("8.1.1", placed=("SEEB",)), Outcome.ACCEPTED, Branch.OUT_OF_SCOPE, None, None),
    (
        "Other User role is out of scope",
        sr(role=UserRole.OU, placed=("SEEB",)),
        Outcome.ACCEPTED,
        Branch.OUT_OF_SCOPE,
        None,
        None,
    ),
    (
        "in scope, Supplier cells replaced",
        sr(party=RemotePartyRole.SUPPLIER, placed=("BGAS",)),
        Outcome.ACCEPTED,
        Branch.NO_NETWORK_OPERATOR_CERTIFICATES,
        None,
        None,
    ),
    (
        "supplier cert in NO cell",
        sr(placed=("BGAS",)),
        Outcome.REJECTED,
        Branch.CERTIFICATE_FAULT,
        "E062106",
        Reason.NOT_NETWORK_OPERATOR_CERTIFICATE,
    ),
    (
        "ACB cert left in NO cell",
        sr("6.15.1", placed=("ACB",)),
        Outcome.REJECTED,
        Branch.CERTIFICATE_FAULT,
        "E061510",
        Reason.NOT_NETWORK_OPERATOR_CERTIFICATE,
    ),
    (
        "NO cert of an entity in no directory",
        sr(placed=("NOBODY",)),
        Outcome.REJECTED,
        Branch.CERTIFICATE_FAULT,
        "E062106",
        Reason.UNKNOWN_ENTITY,
    ),
    (
        "truncated certificate",
        sr(placed=(ReplacementCertificate(CertificateUsage.DIGITAL_SIGNING, b"\x30\x82\x01"),)),
        Outcome.REJECTED,
        Branch.CERTIFICATE_FAULT,
        "E062106",
        Reason.MALFORMED_CERTIFICATE,
    ),
    (
        "registered NO's entity, rogue issuer",
        sr(placed=certs("LOND", ROGUE)),
        Outcome.REJECTED,
        Branch.CERTIFICATE_FAULT,
        "E062106",
        Reason.UNTRUSTED_ISSUER,
    ),
    (
        "NO role but no certificate",
        sr(placed=()),
        Outcome.REJECTED,
        Branch.CERTIFICATE_FAULT,
        "E062106",
        Reason.MALFORMED_CERTIFICATE,
    ),
    (
        "after the change of NO, the old NO is foreign",
        sr(placed=("LOND",), submitted=CHANGE + DAY),
        Outcome.REJECTED,
        Branch.FOREIGN_OWNER,
        "E062106",
        Reason.FOREIGN_NETWORK_OPERATOR,
    ),
    (
        "after the change of NO, the new NO owns it",
        sr(placed=("SEEB",), submitted=CHANGE + DAY),
        Outcome.ACCEPTED,
        Branch.REGISTERED_OWNER,
        None,
        None,
    ),
    (
        "future-dated: judged at ExecutionDateTime",
        sr(placed=("SEEB",), submitted=CHANGE - DAY, execution=CHANGE + DAY),
        Outcome.ACCEPTED,
        Branch.REGISTERED_OWNER,
        None,
        None,
    ),
    (
        "future-dated: receipt-time NO is wrong then",
        sr(placed=("LOND",), submitted=CHANGE - DAY, execution=CHANGE + DAY),
        Outcome.REJECTED,
        Branch.FOREIGN_OWNER,
        "E062106",
        Reason.FOREIGN_NETWORK_OPERATOR,
    ),
    (
        "past ExecutionDateTime: judged at receipt",
        sr(placed=("LOND",), submitted=CHANGE - DAY, execution=T0),
        Outcome.ACCEPTED,
        Branch.REGISTERED_OWNER,
        None,
        None,
    ),
    (
        "certificate not yet valid at receipt (notBefore 2015)",
        sr(submitted=BEFORE_VALIDITY),
        Outcome.REJECTED,
        Branch.CERTIFICATE_FAULT,
        "E062106",
        Reason.CERTIFICATE_NOT_VALID_AT_SR_TIME,
    ),
    (
        "future-dated past the certificate's notAfter (2045)",
        sr("6.15.1", placed=("SEEB",), execution=AFTER_VALIDITY),
        Outcome.REJECTED,
        Branch.CERTIFICATE_FAULT,
        "E061510",
        Reason.CERTIFICATE_NOT_VALID_AT_SR_TIME,
    ),
    (
        "validity not asked for (ApplyTimeBasedCPVChecks false)",
        sr("6.15.1", placed=("SEEB",), execution=AFTER_VALIDITY, cpv=False),
        Outcome.ACCEPTED,
        Branch.REGISTERED_OWNER,
        None,
        None,
    ),
    (
        "an expired certificate outranks a foreign owner",
        sr(placed=("LOND",), execution=AFTER_VALIDITY),
        Outcome.REJECTED,
        Branch.CERTIFICATE_FAULT,
        "E062106",
        Reason.CERTIFICATE_NOT_VALID_AT_SR_TIME,
    ),
    (
        "no registration for the MPxN",
        sr("6.15.1", mpxn="1900033146143"),
        Outcome.REJECTED,
        Branch.MISSING_REGISTRATION,
        "E061511",
        Reason.NO_REGISTRATION,
    ),
    (
        "registration not yet in force",
        sr(submitted=T0 - 400 * DAY),
        Outcome.REJECTED,
        Branch.MISSING_REGISTRATION,
        "E062107",
        Reason.NO_REGISTRATION,
    ),
    ("no MPxN on the SR", sr(mpxn=None), Outcome.REJECTED, Branch.MISSING_REGISTRATION, "E062107", Reason.NO_MPXN),
    (
        "supplier cert wins over a missing registration",
        sr(mpxn=None, placed=("BGAS",)),
        Outcome.REJECTED,
        Branch.CERTIFICATE_FAULT,
        "E062106",
        Reason.NOT_NETWORK_OPERATOR_CERTIFICATE,
    ),
]


@pytest.mark.parametrize(
    ("request_", "outcome", "branch", "code", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_table(request_, outcome, branch, code, reason):
    decision = judge(request_)
    assert (decision.outcome, decision.branch, decision.code, decision.reason) == (outcome, branch, code, reason)
    assert decision.as_of == request_.as_of
    if outcome is Outcome.REJECTED:
        assert decision.detail


def test_missing_registration_under_the_accept_policy_is_flagged():
    decision = judge(sr("6.15.1", mpxn="1900033146143"), Policy(MissingRegistration.ACCEPT))
    assert (decision.outcome, decision.flagged, decision.code, decision.reason) == (
        Outcome.ACCEPTED,
        True,
        None,
        Reason.NO_REGISTRATION,
    )
    rejected = judge(sr("6.15.1", mpxn="1900033146143"), Policy(MissingRegistration.REJECT))
    assert (rejected.outcome, rejected.flagged) == (Outcome.REJECTED, False)


def test_decision_carries_the_evidence():
    decision = judge(sr(placed=("SEEB",)))
    assert decision.registered_network_operator_id == "LOND"
    assert decision.certificate_entity_ids == ("90-B3-D5-1F-30-02-00-02",) * 2
    assert decision.certificate_party_ids == ("SEEB", "SEEB")
    assert "SEEB" in decision.detail and "LOND" in decision.detail


def test_worst_fault_wins_whatever_the_certificate_order():
    mixed = (certs("BGAS")[0], ReplacementCertificate(CertificateUsage.KEY_AGREEMENT, b"junk"))
    for order in (mixed, mixed[::-1]):
        assert judge(sr(placed=order)).reason is Reason.MALFORMED_CERTIFICATE


def test_is_candidate_is_the_cheap_scope_test():
    assert is_candidate("6.21", "GS") and is_candidate("6.15.1", "IS")
    assert is_candidate("6.15.1", "ED")  # exempt branch, recorded
    assert is_candidate("6.21") and is_candidate("6.15.1")  # a DUIS SR: the role is the directory's to say
    assert not is_candidate("8.1.1", "IS") and not is_candidate("6.21", "RSA") and not is_candidate("8.2")
    assert is_target("6.21", "GPF") and is_target("6.15.1", "ESME")
    assert not is_target("6.15.1", "GPF") and not is_target("6.21", "GSME") and not is_target("6.21", None)


variants = st.sampled_from(["6.15.1", "6.21", "8.1.1", "6.15.2", ""])


@settings(max_examples=400, deadline=None)
@given(
    variant=variants,
    role=st.sampled_from(list(UserRole)),
    device=st.sampled_from(list(DeviceType)),
    party=st.one_of(st.none(), st.sampled_from(list(RemotePartyRole))),
    ders=st.lists(st.binary(max_size=300), max_size=3),
    mpxn=st.one_of(st.none(), st.text(max_size=14), st.sampled_from([MPAN, MPRN])),
    submitted=st.integers(min_value=-(2**62), max_value=2**62),
    execution=st.one_of(st.none(), st.integers(min_value=-(2**62), max_value=2**62)),
)
def test_decide_never_raises_and_rejections_always_carry_a_code(
    variant, role, device, party, ders, mpxn, submitted, execution
):
    request = ServiceRequest(
        "r",
        variant,
        1,
        "o",
        role,
        "t",
        device,
        mpxn,
        party,
        tuple(ReplacementCertificate(CertificateUsage.DIGITAL_SIGNING, d) for d in ders),
        submitted,
        execution,
    )
    decision = judge(request)
    if decision.outcome is Outcome.REJECTED:
        assert decision.code and decision.reason and decision.code.startswith(("E0615", "E0621"))
        assert is_candidate(variant, role) and is_target(variant, device)
    else:
        assert decision.code is None


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([c[1] for c in CASES]), st.integers(min_value=0, max_value=10**6))
def test_decision_does_not_depend_on_request_identity(request_, counter):
    renamed = replace(request_, request_id=f"x:y:{counter}", target_device_id="00-00-00-00-00-00-00-09")
    a, b = judge(request_), judge(renamed)
    assert (a.outcome, a.branch, a.reason) == (b.outcome, b.branch, b.reason)


# -- fail-open gaps (rule fidelity) ---------------------------------------------------------------


def test_a_missing_remote_party_role_is_never_accepted():
    for placed in (("SEEB",), ("LOND",), ()):
        decision = judge(sr(party=None, placed=placed))
        assert (decision.outcome, decision.code, decision.reason) == (
            Outcome.REJECTED,
            "E062106",
            Reason.MISSING_REMOTE_PARTY_ROLE,
        )
    assert judge(sr("6.15.1", party=None)).code == "E061510"
    # ... but a Network Operator's own 6.15.1 stays exempt whatever it carries
    assert judge(sr("6.15.1", role=UserRole.ED, party=None)).branch is Branch.EXEMPT_NETWORK_OPERATOR


def _with_holders(entity: str, holders: tuple[Party, ...]) -> PartyDirectory:
    table = {e: DIRECTORY.holders(e, T0) for e in ("90-B3-D5-1F-30-02-00-01", "90-B3-D5-1F-30-01-00-01")}
    table[entity] = holders
    return PartyDirectory(table)


def test_an_entity_held_by_two_parties_at_once_is_ambiguous_whatever_their_order():
    lond_entity = "90-B3-D5-1F-30-02-00-01"
    both = (Party("LOND", "ED", T0 - DAY, None), Party("SEEB", "ED", T0 - 2 * DAY, None))
    for holders in (both, both[::-1]):
        directory = _with_holders(lond_entity, holders)
        request = sr(placed=("LOND",))
        decision = decide(request, registration_at(MPAN, T0), directory, READER)
        assert (decision.outcome, decision.reason) == (Outcome.REJECTED, Reason.AMBIGUOUS_CERTIFICATE_OWNER)
        assert "LOND, SEEB" in decision.detail


def test_a_registered_network_operator_without_credentials_is_its_own_reason():
    # SEEB holds no entity in this directory: no Supplier could place SEEB's certificates.
    directory = _with_holders("90-B3-D5-1F-30-02-00-01", (Party("LOND", "ED"),))
    request = sr(placed=("LOND",), submitted=CHANGE + DAY)  # registered to SEEB by then
    decision = decide(request, registration_at(MPAN, request.as_of), directory, READER)
    assert (decision.outcome, decision.reason, decision.registered_network_operator_id) == (
        Outcome.REJECTED,
        Reason.REGISTERED_NETWORK_OPERATOR_HAS_NO_CREDENTIALS,
        "SEEB",
    )
    assert judge(request).reason is Reason.FOREIGN_NETWORK_OPERATOR  # SEEB has credentials in the full directory


def _x500_unique_identifier_bits(bits: bytes) -> bytes:
    """A NO certificate for LOND whose x500UniqueIdentifier BIT STRING content is ``bits`` (DER re-signed)."""
    from cryptography import x509
    from cryptography.x509.name import _ASN1Type
    from cryptography.x509.oid import NameOID

    return PKI.issue_with_subject(
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "03"),
                x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, bits, _ASN1Type.BitString),
            ]
        ),
        KeyUsage.DIGITAL_SIGNATURE,
    )


def test_an_x500_unique_identifier_that_is_not_exactly_64_bits_is_malformed():
    lond = bytes.fromhex(ENTITY["LOND"])
    exact = _x500_unique_identifier_bits(b"\x00" + lond)
    assert READER.read(exact).entity_id == "90-B3-D5-1F-30-02-00-01"
    # 56 bits whose unused-bits octet and 7 bytes spell LOND's EUI-64 when read loosely
    for bits in (lond, b"\x00" + lond[:7], b"\x01" + lond, b"\x00" + lond + b"\x00"):
        certificate = _x500_unique_identifier_bits(bits)
        placed = (ReplacementCertificate(CertificateUsage.DIGITAL_SIGNING, certificate),)
        decision = judge(sr(placed=placed))
        assert (decision.outcome, decision.reason) == (Outcome.REJECTED, Reason.MALFORMED_CERTIFICATE), bits.hex()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([c[1] for c in CASES]), st.randoms(use_true_random=False))
def test_the_decision_never_depends_on_the_order_of_certificates(request_, rng):
    shuffled = list(request_.certificates)
    rng.shuffle(shuffled)
    a, b = judge(request_), judge(replace(request_, certificates=tuple(shuffled)))
    assert (a.outcome, a.branch, a.code, a.reason, a.detail) == (b.outcome, b.branch, b.code, b.reason, b.detail)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([c[1] for c in CASES if c[2] is Outcome.ACCEPTED]), st.sampled_from(["mpxn", "party"]))
def test_a_missing_mandatory_field_never_yields_accepted_for_an_in_scope_sr(request_, field):
    variant = request_.service_reference_variant
    if request_.remote_party_role is not RemotePartyRole.NETWORK_OPERATOR or not (
        is_candidate(variant, request_.user_role) and is_target(variant, request_.target_device_type)
    ):
        return
    if request_.user_role in (UserRole.ED, UserRole.GT) and request_.service_reference_variant == "6.15.1":
        return  # exempt: never blocked, whatever it carries
    broken = replace(request_, mpxn=None) if field == "mpxn" else replace(request_, remote_party_role=None)
    assert judge(broken).outcome is Outcome.REJECTED
