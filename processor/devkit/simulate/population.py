"""A GB-like population: Network Operators, suppliers, meter points and effective-dated registrations.

Electricity NOs are the 14 DNOs and 13 IDNOs of DOMAIN.md with their market ids; an MPAN's
distributor-id prefix names its area, and registration data names its NO. Gas transporter ids are
this project's own short ids (no public table maps them), as are supplier ids.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

from processor.devkit.simulate.pki import SmkiPki
from processor.domain.certificates import KeyUsage, OrganisationRole
from processor.domain.identifiers import (
    DISTRIBUTOR_MARKET_IDS,
    Fuel,
    eui64_from_bytes,
    mpan_check_digit,
    mprn_check_digits,
)
from processor.domain.model import DeviceType, Party, PartyDirectory, Registration, UserRole

DISTRIBUTORS = DISTRIBUTOR_MARKET_IDS
DNO_IDS = [i for i in DISTRIBUTORS if i <= 23]
GAS_TRANSPORTERS = ["CADT", "NGNL", "SGNL", "WWUL", "ESPL", "GTCL", "IPLL", "FPLL"]
GAS_WEIGHTS = [45, 12, 22, 10, 4, 3, 2, 2]  # roughly by meter points served (inference)
ELECTRICITY_SUPPLIERS = ["BGAS", "EDFE", "EONN", "OVOS", "OCTE", "SPWR"]
GAS_SUPPLIERS = ["BGAS", "EDFE", "EONN", "OVOS", "OCTE"]
# Some IDNOs never created SMKI credentials (the SECMP0063 working group's finding). Which one is this
# simulation's choice, not a statement about the real company: registered for meter points, absent from
# the party directory, so Suppliers cannot place its certificates.
WITHOUT_SMKI_CREDENTIALS = ("VATT",)


def _ms(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.UTC).timestamp() * 1000)


REGISTERED_FROM = (_ms(dt.datetime(2014, 1, 1)), _ms(dt.datetime(2015, 6, 1)))
CHANGES_BETWEEN = (_ms(dt.datetime(2019, 1, 1)), _ms(dt.datetime(2025, 1, 1)))


@dataclass
class Organisation:
    party_id: str
    role: UserRole
    entity_id: str
    smki_role: OrganisationRole
    certificates: dict[KeyUsage, bytes] = field(default_factory=dict)


@dataclass
class MeterPoint:
    mpxn: str
    fuel: Fuel
    device_id: str
    device_type: DeviceType
    registrations: list[Registration]  # as the DSP's registration data holds them
    true_operator: str | None = None  # planted: the NO that really runs the meter point (the data names another)
    cells_held_by: str | None = None  # planted: the NO whose certificates the device's cells wrongly hold

    def registration_at(self, at: int) -> Registration | None:
        in_force = [r for r in self.registrations if r.effective_from <= at]
        return max(in_force, key=lambda r: (r.effective_from, r.sequence)) if in_force else None

    def operator_at(self, at: int) -> str | None:
        """The NO that really runs the meter point at ``at``: the registered one, unless planted otherwise."""
        registration = self.registration_at(at)
        return self.true_operator or (registration.network_operator_id if registration else None)


@dataclass
class Population:
    pki: SmkiPki
    rogue_pki: SmkiPki  # an issuer srguard does not trust
    network_operators: dict[str, Organisation]  # those with SMKI credentials
    suppliers: dict[str, Organisation]
    acb: Organisation
    unknown_operator: Organisation  # a network-operator certificate whose entity is in no directory
    meter_points: list[MeterPoint]

    def organisations(self) -> list[Organisation]:
        return [*self.network_operators.values(), *self.suppliers.values(), self.acb]

    def directory(self) -> PartyDirectory:
        """Each organisation's entity under its role; a supplier's as Import Supplier and Gas Supplier (one
        entity under two roles, as the DCC's own test supplier holds its)."""
        return PartyDirectory(
            {o.entity_id: tuple(Party(o.party_id, role) for role in _roles(o)) for o in self.organisations()}
        )

    def registrations(self) -> list[Registration]:
        return [r for point in self.meter_points for r in point.registrations]

    @cached_property
    def _points(self) -> dict[str, MeterPoint]:
        return {point.mpxn: point for point in self.meter_points}

    def registrations_in_force(self, queries: Sequence[tuple[str | None, int]]) -> list[Registration | None]:
        """The registration in force for each (MPxN, at), from the world itself: the judge's look-up without Redis."""
        return [self._points[m].registration_at(at) if m in self._points else None for m, at in queries]

    def wrong_registrations(self) -> list[tuple[str, str, str]]:
        """(MPxN, registered NO, true NO) of each planted wrong registration: what ``suspects`` should find."""
        return [
            (p.mpxn, p.registrations[0].network_operator_id or "", p.true_operator)
            for p in self.meter_points
            if p.true_operator
        ]

    def cells_as_read(self, at: int) -> list[tuple[str, str, str, int]]:
        """(device, cell, entity, at): each device's NO cells as a snapshot read them at ``at`` (e.g. SR 6.24.1
        results, for ``srguard ledger baseline``): the certificates of the NO that ran its meter point then, or
        of the decoys' wrong one. Devices of an NO without credentials hold none."""
        rows = []
        for point in self.meter_points:
            holder = self.network_operators.get(point.cells_held_by or point.operator_at(at) or "")
            if holder is not None:
                rows += [(point.device_id, cell, holder.entity_id, at) for cell in ("ds", "ka")]
        return rows

    def operators_of(self, fuel: Fuel) -> list[Organisation]:
        role = UserRole.ED if fuel is Fuel.ELECTRICITY else UserRole.GT
        return [o for o in self.network_operators.values() if o.role is role]


class _Ids:
    def __init__(self, base: int) -> None:
        self._next = base

    def __call__(self) -> str:
        self._next += 1
        return eui64_from_bytes(self._next.to_bytes(8, "big"))


def _organisation(
    pki: SmkiPki, party_id: str, role: UserRole, smki_role: OrganisationRole, entity: str
) -> Organisation:
    certs = {usage: pki.issue(entity, smki_role, usage) for usage in KeyUsage}
    return Organisation(party_id, role, entity, smki_role, certs)


def _roles(organisation: Organisation) -> tuple[str, ...]:
    # The simulated traffic lets any supplier originate for either fuel, so each is a dual-fuel supplier.
    supplier = organisation.role is UserRole.IS
    return (UserRole.IS.value, UserRole.GS.value) if supplier else (organisation.role.value,)


def _mpan(rng: random.Random, distributor: int) -> str:
    first12 = f"{distributor:02d}{rng.randrange(10**10):010d}"
    return first12 + str(mpan_check_digit(first12))


def _mprn(rng: random.Random) -> str:
    body = f"{rng.randrange(10**7, 10**8):08d}"
    return body + mprn_check_digits(body)


def build_population(
    seed: int = 1,
    meter_points: int = 10_000,
    *,
    gas_share: float = 0.45,
    change_rate: float = 0.03,
    wrong_registrations: float = 0.0,
) -> Population:
    """Deterministic for a seed. ``change_rate`` of meter points get a change of NO (e.g. IDNO adoption);
    ``wrong_registrations`` of them are registered to a neighbouring NO while the true one runs them (and as
    many decoys hold a neighbouring NO's certificates while registered right: see ``plant``)."""
    rng = random.Random(f"population-{seed}")
    pki, rogue = SmkiPki(seed), SmkiPki(seed, name="ROGUE")
    party_ids = _Ids(0x90B3D51F30100000)
    entities = {mid: (UserRole.ED, party_ids()) for mid in DISTRIBUTORS.values()}
    entities |= {mid: (UserRole.GT, party_ids()) for mid in GAS_TRANSPORTERS}
    operators = {
        mid: _organisation(pki, mid, role, OrganisationRole.NETWORK_OPERATOR, entity)
        for mid, (role, entity) in entities.items()
        if mid not in WITHOUT_SMKI_CREDENTIALS
    }
    suppliers = {
        mid: _organisation(pki, mid, UserRole.IS, OrganisationRole.SUPPLIER, party_ids())
        for mid in sorted({*ELECTRICITY_SUPPLIERS, *GAS_SUPPLIERS})
    }
    acb = _organisation(pki, "DCCACB", UserRole.OU, OrganisationRole.ACCESS_CONTROL_BROKER, party_ids())
    unknown = _organisation(pki, "UNKNOWN", UserRole.ED, OrganisationRole.NETWORK_OPERATOR, party_ids())

    device_ids = _Ids(0x0012_4B00_0000_0000)
    points: list[MeterPoint] = []
    sequence = 0
    seen: set[str] = set()
    while len(points) < meter_points:
        gas = rng.random() < gas_share
        if gas:
            mpxn, fuel, device_type = _mprn(rng), Fuel.GAS, DeviceType.GPF
            operator = rng.choices(GAS_TRANSPORTERS, GAS_WEIGHTS)[0]
            supplier = rng.choice(GAS_SUPPLIERS)
        else:
            distributor = rng.choice(DNO_IDS) if rng.random() < 0.93 else rng.choice(list(DISTRIBUTORS)[14:])
            mpxn, fuel, device_type = _mpan(rng, distributor), Fuel.ELECTRICITY, DeviceType.ESME
            operator, supplier = DISTRIBUTORS[distributor], rng.choice(ELECTRICITY_SUPPLIERS)
        if mpxn in seen:
            continue
        seen.add(mpxn)
        sequence += 1
        records = [Registration(mpxn, fuel, operator, supplier, rng.randrange(*REGISTERED_FROM), sequence)]
        if rng.random() < change_rate:
            pool = GAS_TRANSPORTERS if gas else list(DISTRIBUTORS.values())
            sequence += 1
            new_operator = rng.choice([p for p in pool if p != operator])
            records.append(Registration(mpxn, fuel, new_operator, supplier, rng.randrange(*CHANGES_BETWEEN), sequence))
        points.append(MeterPoint(mpxn, fuel, device_ids(), device_type, records))
    plant(points, set(operators), wrong_registrations, random.Random(f"planted-{seed}"))
    return Population(pki, rogue, operators, suppliers, acb, unknown, points)


def neighbour(operator: str | None, fuel: Fuel, credentialed: set[str]) -> str:
    """The next NO of the same fuel with SMKI credentials (DNO areas in distributor-id order; gas
    transporters in list order): the likeliest wrong name in a registration."""
    pool = [o for o in (GAS_TRANSPORTERS if fuel is Fuel.GAS else list(DISTRIBUTORS.values())) if o in credentialed]
    return pool[(pool.index(operator) + 1) % len(pool)] if operator in pool else pool[0]


def plant(points: list[MeterPoint], credentialed: set[str], share: float, rng: random.Random) -> None:
    """Wrong registrations: ``share`` of the meter points with one registration, of an NO with credentials, get
    their registration renamed to the neighbouring NO (the true one kept in ``true_operator``). Decoys: as many
    others whose devices' cells hold the neighbour's certificates (a wrong placement from before srguard) while
    their registration is right: evidence that must not, alone, make a suspect."""
    eligible = [
        p for p in points if len(p.registrations) == 1 and p.registrations[0].network_operator_id in credentialed
    ]
    chosen = rng.sample(eligible, min(len(eligible), 2 * round(share * len(points))))
    half = len(chosen) // 2
    for point in chosen[:half]:
        record = point.registrations[0]
        point.true_operator = record.network_operator_id
        point.registrations = [
            replace(record, network_operator_id=neighbour(point.true_operator, point.fuel, credentialed))
        ]
    for point in chosen[half:]:
        point.cells_held_by = neighbour(point.registrations[0].network_operator_id, point.fuel, credentialed)
