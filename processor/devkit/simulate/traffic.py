"""Seeded SR streams with a configurable mix, each SR labelled with the decision it should get.

Labels assume the trust store holds the population's OCA and the policy rejects a missing
registration: the configuration the demo and the end-to-end tests run.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from processor.devkit.simulate.population import MeterPoint, Organisation, Population
from processor.domain.certificates import KeyUsage, OrganisationRole
from processor.domain.decision import Branch, Reason
from processor.domain.identifiers import Fuel
from processor.domain.model import (
    CertificateUsage,
    DeviceType,
    RemotePartyRole,
    ReplacementCertificate,
    ServiceRequest,
    UserRole,
)

OUT_OF_SCOPE_VARIANTS = ["1.1.1", "1.2.1", "2.1", "4.1.1", "4.4.2", "6.2.7", "6.15.2", "6.23", "8.1.1", "8.2", "11.2"]
# Incidents the traffic is told to carry; an ambiguous owner is a fault of the party directory, made by
# tests that build such a directory; a registered NO without credentials follows from the population
# (any placement for its meter points); an unknown originator or device, or an SR the inventory
# or directory contradicts or an inventory without an import MPxN, needs the DSP's data (DUIS traffic).
INCIDENT_REASONS = [
    r
    for r in Reason
    if r
    not in (
        Reason.AMBIGUOUS_CERTIFICATE_OWNER,
        Reason.REGISTERED_NETWORK_OPERATOR_HAS_NO_CREDENTIALS,
        Reason.UNKNOWN_ORIGINATOR,
        Reason.UNKNOWN_DEVICE,
        Reason.REQUEST_CONTRADICTS_INVENTORY,
        Reason.REQUEST_CONTRADICTS_PARTY_DIRECTORY,
        Reason.INVENTORY_NAMES_NO_IMPORT_MPXN,
    )
]
_USAGE = {
    KeyUsage.DIGITAL_SIGNATURE: CertificateUsage.DIGITAL_SIGNING,
    KeyUsage.KEY_AGREEMENT: CertificateUsage.KEY_AGREEMENT,
}
DAY_MS = 86_400_000
EXPIRED = (dt.datetime(2009, 1, 1, tzinfo=dt.UTC), dt.datetime(2014, 12, 31, tzinfo=dt.UTC))  # before any traffic


def _ms(year: int, month: int, day: int) -> int:
    return int(dt.datetime(year, month, day, tzinfo=dt.UTC).timestamp() * 1000)


@dataclass(frozen=True)
class TrafficMix:
    in_scope: float = 0.05  # share of SRs that are supplier 6.15.1/6.21 placing NO certificates
    incident_rate: float = 0.01  # share of those that must be rejected, split evenly over every reason
    exempt: float = 0.002  # NO-sent 6.15.1
    other_role_certificates: float = 0.005  # in-scope SRs replacing non-NO cells
    future_dated: float = 0.1  # share of in-scope SRs with an ExecutionDateTime days ahead
    start: int = _ms(2019, 6, 1)
    end: int = _ms(2025, 6, 1)


@dataclass(frozen=True)
class LabelledSR:
    sr: ServiceRequest
    branch: Branch
    reason: Reason | None

    @property
    def rejected(self) -> bool:
        return self.reason is not None


def _certs(
    org: Organisation, usages: tuple[KeyUsage, ...] = (KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_AGREEMENT)
) -> tuple[ReplacementCertificate, ...]:
    return tuple(ReplacementCertificate(_USAGE[u], org.certificates[u]) for u in usages)


class TrafficGenerator:
    def __init__(self, population: Population, mix: TrafficMix | None = None, seed: int = 1) -> None:
        self.population = population
        self.mix = mix or TrafficMix()
        self._rng = random.Random(f"traffic-{seed}")
        self._counter = 0
        self._suppliers = list(population.suppliers.values())
        self._rogue_cache: dict[str, bytes] = {}
        self._expired_cache: dict[str, bytes] = {}
        self._known_mpxns = {p.mpxn for p in population.meter_points}
        self._mpxns_by_fuel: dict[Fuel, list[str]] = {}
        for point in population.meter_points:
            self._mpxns_by_fuel.setdefault(point.fuel, []).append(point.mpxn)

    def __iter__(self) -> Iterator[LabelledSR]:
        while True:
            yield self.next()

    def take(self, count: int) -> list[LabelledSR]:
        return [self.next() for _ in range(count)]

    def next(self) -> LabelledSR:
        rng, mix = self._rng, self.mix
        point = rng.choice(self.population.meter_points)
        roll = rng.random()
        if roll < mix.exempt:
            return self._exempt(point)
        roll -= mix.exempt
        if roll < mix.other_role_certificates:
            return self._in_scope(point, RemotePartyRole.SUPPLIER, None)
        roll -= mix.other_role_certificates
        if roll < mix.in_scope:
            reason = rng.choice(INCIDENT_REASONS) if rng.random() < mix.incident_rate else None
            return self._in_scope(point, RemotePartyRole.NETWORK_OPERATOR, reason)
        return self._out_of_scope(point)

    def _sr(
        self,
        point: MeterPoint,
        variant: str,
        originator: Organisation,
        role: UserRole,
        party_role: RemotePartyRole | None,
        certs: tuple[ReplacementCertificate, ...],
        device_type: DeviceType | None = None,
        mpxn: str | None = "",
        execution: int | None = None,
        submitted: int | None = None,
    ) -> ServiceRequest:
        self._counter += 1
        submitted = submitted if submitted is not None else self._rng.randrange(self.mix.start, self.mix.end)
        return ServiceRequest(
            request_id=f"{originator.entity_id}:{point.device_id}:{self._counter}",
            service_reference_variant=variant,
            command_variant=1,
            originator_id=originator.entity_id,
            user_role=role,
            target_device_id=point.device_id,
            target_device_type=device_type or point.device_type,
            mpxn=point.mpxn if mpxn == "" else mpxn,
            remote_party_role=party_role,
            certificates=certs,
            submitted_at=submitted,
            execution_datetime=execution,
        )

    def _supplier(self) -> Organisation:
        return self._rng.choice(self._suppliers)

    def _out_of_scope(self, point: MeterPoint) -> LabelledSR:
        rng = self._rng
        if rng.random() < 0.1:  # 6.15.1 to a GPF is out of SECMP0063's scope even with NO certificates
            operator = rng.choice(self.population.operators_of(point.fuel))
            sr = self._sr(
                point,
                "6.15.1",
                self._supplier(),
                UserRole.GS,
                RemotePartyRole.NETWORK_OPERATOR,
                _certs(operator),
                device_type=DeviceType.GPF if point.device_type is DeviceType.GPF else DeviceType.GSME,
            )
        else:
            sr = self._sr(point, rng.choice(OUT_OF_SCOPE_VARIANTS), self._supplier(), UserRole.IS, None, ())
        return LabelledSR(sr, Branch.OUT_OF_SCOPE, None)

    def _exempt(self, point: MeterPoint) -> LabelledSR:
        """The NO that runs the meter point places its own certificates (a planted wrong registration's true
        NO too: never blocked, and evidence for ``suspects``); where that NO has no credentials, another does."""
        submitted = self._rng.randrange(self.mix.start, self.mix.end)
        operator = self.population.network_operators.get(point.operator_at(submitted) or "")
        operator = operator or self._rng.choice(self.population.operators_of(point.fuel))
        role = UserRole.ED if operator.role is UserRole.ED else UserRole.GT
        sr = self._sr(
            point,
            "6.15.1",
            operator,
            role,
            RemotePartyRole.NETWORK_OPERATOR,
            _certs(operator),
            device_type=DeviceType.ESME,
            submitted=submitted,
        )
        return LabelledSR(sr, Branch.EXEMPT_NETWORK_OPERATOR, None)

    def _in_scope(self, point: MeterPoint, party_role: RemotePartyRole, reason: Reason | None) -> LabelledSR:
        rng, pop = self._rng, self.population
        variant = "6.21" if point.device_type is DeviceType.GPF or rng.random() < 0.7 else "6.15.1"
        role = UserRole.GS if point.device_type is DeviceType.GPF else UserRole.IS
        submitted = rng.randrange(self.mix.start, self.mix.end)
        execution = submitted + rng.randrange(1, 30) * DAY_MS if rng.random() < self.mix.future_dated else None
        as_of = execution or submitted
        registration = point.registration_at(as_of)
        operator = registration.network_operator_id if registration else None
        registered = pop.network_operators.get(operator) if operator else None
        # A Supplier cannot place the certificates of an NO without SMKI credentials: it places another NO's.
        uncredentialed = operator is not None and registered is None
        if uncredentialed:
            registered = rng.choice(pop.operators_of(point.fuel))
        if party_role is not RemotePartyRole.NETWORK_OPERATOR:
            sr = self._sr(
                point,
                variant,
                self._supplier(),
                role,
                party_role,
                _certs(self._supplier()),
                execution=execution,
                submitted=submitted,
            )
            return LabelledSR(sr, Branch.NO_NETWORK_OPERATOR_CERTIFICATES, None)
        certs, branch = _certs(registered) if registered else (), Branch.REGISTERED_OWNER
        # A wrong registration: the Supplier places the certificates of the NO that really runs the meter point.
        true = pop.network_operators.get(point.true_operator or "") if reason is None else None
        mpxn: str | None = ""
        stated_role: RemotePartyRole | None = RemotePartyRole.NETWORK_OPERATOR
        if reason is Reason.MISSING_REMOTE_PARTY_ROLE:
            stated_role, branch = None, Branch.CERTIFICATE_FAULT
            certs = certs or _certs(pop.operators_of(point.fuel)[0])
        elif reason is Reason.FOREIGN_NETWORK_OPERATOR:
            other = rng.choice([o for o in pop.operators_of(point.fuel) if o is not registered])
            certs, branch = _certs(other), Branch.FOREIGN_OWNER
        elif reason is Reason.NOT_NETWORK_OPERATOR_CERTIFICATE:
            certs, branch = _certs(rng.choice([pop.acb, self._supplier()])), Branch.CERTIFICATE_FAULT
        elif reason is Reason.UNKNOWN_ENTITY:
            certs, branch = _certs(pop.unknown_operator), Branch.CERTIFICATE_FAULT
        elif reason is Reason.MALFORMED_CERTIFICATE:
            good = _certs(registered or pop.unknown_operator)
            broken = good[0].der[: rng.randrange(10, len(good[0].der) - 1)]
            certs, branch = (ReplacementCertificate(good[0].usage, broken), *good[1:]), Branch.CERTIFICATE_FAULT
        elif reason is Reason.UNTRUSTED_ISSUER:
            forged = self._forged(registered or pop.unknown_operator)
            certs, branch = (
                (ReplacementCertificate(CertificateUsage.DIGITAL_SIGNING, forged),),
                Branch.CERTIFICATE_FAULT,
            )
        elif reason is Reason.CERTIFICATE_NOT_VALID_AT_SR_TIME:
            expired = self._expired(registered or pop.operators_of(point.fuel)[0])
            certs, branch = (
                (ReplacementCertificate(CertificateUsage.DIGITAL_SIGNING, expired),),
                Branch.CERTIFICATE_FAULT,
            )
        elif reason is Reason.FUEL_MISMATCH:  # an ESME named with an MPRN, a GPF with an MPAN
            other_fuel = Fuel.GAS if point.fuel is Fuel.ELECTRICITY else Fuel.ELECTRICITY
            mpxn, branch = rng.choice(self._mpxns_by_fuel[other_fuel]), Branch.SUBJECT_FAULT
            certs = certs or _certs(pop.operators_of(point.fuel)[0])
        elif reason is Reason.NO_MPXN:
            mpxn, branch = None, Branch.MISSING_REGISTRATION
            certs = certs or _certs(pop.operators_of(point.fuel)[0])
        elif reason is Reason.NO_REGISTRATION or registered is None:
            mpxn, branch, reason = self._unregistered(point), Branch.MISSING_REGISTRATION, Reason.NO_REGISTRATION
            certs = certs or _certs(pop.operators_of(point.fuel)[0])
        if true is not None:
            certs, branch, reason = _certs(true), Branch.FOREIGN_OWNER, Reason.FOREIGN_NETWORK_OPERATOR
        if uncredentialed and reason in (None, Reason.FOREIGN_NETWORK_OPERATOR):
            branch, reason = Branch.FOREIGN_OWNER, Reason.REGISTERED_NETWORK_OPERATOR_HAS_NO_CREDENTIALS
        sr = self._sr(
            point,
            variant,
            self._supplier(),
            role,
            stated_role,
            certs,
            mpxn=mpxn,
            execution=execution,
            submitted=submitted,
        )
        return LabelledSR(sr, branch, reason)

    def _unregistered(self, point: MeterPoint) -> str:
        """An MPxN of the same shape that no registration covers."""
        while True:
            candidate = point.mpxn[:-4] + f"{self._rng.randrange(10_000):04d}"
            if candidate not in self._known_mpxns:
                return candidate

    def _expired(self, operator: Organisation) -> bytes:
        """The NO's own certificate from its trusted issuer, expired years before the SR."""
        if operator.entity_id not in self._expired_cache:
            self._expired_cache[operator.entity_id] = self.population.pki.issue(
                operator.entity_id, OrganisationRole.NETWORK_OPERATOR, KeyUsage.DIGITAL_SIGNATURE, EXPIRED
            )
        return self._expired_cache[operator.entity_id]

    def _forged(self, victim: Organisation) -> bytes:
        """A certificate claiming the victim NO's entity id, issued by a CA srguard does not trust."""
        if victim.entity_id not in self._rogue_cache:
            self._rogue_cache[victim.entity_id] = self.population.rogue_pki.issue(
                victim.entity_id, OrganisationRole.NETWORK_OPERATOR, KeyUsage.DIGITAL_SIGNATURE
            )
        return self._rogue_cache[victim.entity_id]
