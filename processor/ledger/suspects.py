"""`srguard suspects`: the MPxNs whose registration srguard's own records contradict, for the registration
data's owners (SECMP0063's check is only as good as the DSP's registration data: a meter point registered to
the wrong Network Operator makes srguard reject the *right* certificates).

Each piece of evidence says "NO X runs this MPxN, registered to NO Y". Points per rule (README "For the
registration data's owners"), each counted once per what makes it independent:

- ``supplier_placed_another_no`` (2 per distinct Supplier): a Supplier's SR rejected (or recorded in audit mode)
  as ``foreign_network_operator`` for placing X's certificates. One Supplier can be mistaken; Suppliers that
  independently place the same X are the signal.
- ``no_placed_its_own`` (3 per SR): X's own 6.15.1 (exempt, so accepted untouched) placing X's certificates on
  the device: the NO itself acts as the MPxN's operator.
- ``ledger_holds_another_no`` (3 per device): the device's NO cell holds X's certificates: read from the device
  (a snapshot: what it holds), or confirmed by the device's response at least ``min_days`` ago (a placement
  that stood). Alone it cannot tell a wrong registration from certificates placed wrong (what SECMP0063 is
  about), so it never makes a suspect by itself.

An (MPxN, X) with at least ``THRESHOLD`` points is a suspect: two Suppliers, or the NO and a Supplier, or the
ledger and any other rule. One whose MPxN is registered to X by now is counted as corrected, not listed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from processor.domain.certificates import CertificateReader
from processor.domain.decision import Reason
from processor.domain.identifiers import DISTRIBUTOR_MARKET_IDS, Fuel, fuel_of
from processor.domain.model import NETWORK_OPERATOR_ROLES, PartyDirectory, RemotePartyRole, ServiceRequest
from processor.domain.rule import is_exempt
from processor.errors import CertificateError, InvalidIdentifier
from processor.history.sources import LOOKUP_BATCH, RegisteredOf
from processor.ledger.model import CELLS, Holding, Status
from processor.ledger.population import DeviceView

DAY = 86_400_000
THRESHOLD = 4


class Rule(StrEnum):
    SUPPLIERS = "supplier_placed_another_no"
    OPERATOR = "no_placed_its_own"
    LEDGER = "ledger_holds_another_no"


POINTS = {Rule.SUPPLIERS: 2, Rule.OPERATOR: 3, Rule.LEDGER: 3}
COUNTED_PER = {Rule.SUPPLIERS: "distinct Supplier", Rule.OPERATOR: "SR", Rule.LEDGER: "device"}


@dataclass(frozen=True)
class Evidence:
    rule: Rule
    mpxn: str
    registered: str  # the NO registered for the MPxN at the evidence's time
    pointed: str  # the NO the evidence says runs it
    by: str  # the Supplier, the NO, or the device
    at: int  # the SR's time, or when the cell's certificates were placed
    reference: str  # the SR's RequestID, or "<device> <cell>"

    @property
    def independent(self) -> tuple[Rule, str]:
        """What counts once: a Supplier (its retries are one), an SR, a device (its two cells are one)."""
        return (self.rule, self.reference if self.rule is Rule.OPERATOR else self.by)


@dataclass(frozen=True)
class Suspect:
    mpxn: str
    registered: str
    pointed: str
    score: int
    evidence: tuple[Evidence, ...]

    @property
    def fuel(self) -> str:
        return _fuel(self.mpxn)

    @property
    def counts(self) -> Counter[Rule]:
        return Counter(rule for rule, _ in {e.independent for e in self.evidence})

    @property
    def data_owner(self) -> str:
        return data_owner(self.mpxn, self.registered)

    @property
    def first_seen(self) -> int:
        return min(e.at for e in self.evidence)

    @property
    def last_seen(self) -> int:
        return max(e.at for e in self.evidence)


@dataclass
class Findings:
    suspects: list[Suspect]
    evidence: Counter[Rule] = field(default_factory=Counter)  # pieces read, by rule
    below_threshold: int = 0  # (MPxN, NO) pairs with some evidence, under the threshold
    corrected: int = 0  # suspects whose MPxN is registered to the pointed NO by now

    def by(self, side: str) -> Counter[str]:
        """Suspects per registered NO (``registered``) or per NO the evidence points to (``pointed``)."""
        return Counter(getattr(s, side) for s in self.suspects)


def _fuel(mpxn: str) -> str:
    try:
        return fuel_of(mpxn).value
    except InvalidIdentifier:
        return "unknown"


def data_owner(mpxn: str, registered: str) -> str:
    """Who keeps the MPxN's registration: for electricity the registration service (MPAS) of the distributor
    whose id starts the MPAN; for gas the gas transporter's agent (the CDSP), for the registered transporter."""
    if _fuel(mpxn) == Fuel.ELECTRICITY.value:
        distributor = DISTRIBUTOR_MARKET_IDS.get(int(mpxn[:2]), f"distributor {mpxn[:2]}")
        return f"{distributor} (MPAS, distributor {mpxn[:2]})"
    return f"CDSP for {registered}"


def score(evidence: Iterable[Evidence]) -> int:
    return sum(POINTS[rule] for rule, _ in {e.independent for e in evidence})


def find_suspects(
    evidence: Iterable[Evidence],
    registered_of: RegisteredOf | None = None,
    now: int = 0,
    threshold: int = THRESHOLD,
) -> Findings:
    """Evidence grouped by (MPxN, pointed NO) and scored; the registered NO named is the latest evidence's.
    ``registered_of`` at ``now``: each listed MPxN's NO today, to count (not list) those corrected since."""
    grouped: dict[tuple[str, str], list[Evidence]] = defaultdict(list)
    read: Counter[Rule] = Counter()
    for item in evidence:
        read[item.rule] += 1
        grouped[(item.mpxn, item.pointed)].append(item)
    scored = [(key, items, score(items)) for key, items in grouped.items()]
    listed = [(key, items, points) for key, items, points in scored if points >= threshold]
    today = registered_of([(mpxn, now) for (mpxn, _), _, _ in listed]) if registered_of and listed else []
    suspects, corrected = [], 0
    for n, ((mpxn, pointed), items, points) in enumerate(listed):
        if today and today[n] == pointed:
            corrected += 1
            continue
        latest = max(items, key=lambda e: e.at)
        ordered = tuple(sorted(items, key=lambda e: (e.at, e.rule, e.reference)))
        suspects.append(Suspect(mpxn, latest.registered, pointed, points, ordered))
    suspects.sort(key=lambda s: (-s.score, s.registered, s.mpxn))
    return Findings(suspects, read, len(scored) - len(listed), corrected)


def from_rejections(
    records: Iterable[dict[str, Any]], party_of: Callable[[str, int], str | None]
) -> Iterator[Evidence]:
    """``foreign_network_operator`` rejection (or audit) records whose certificates all belong to one other NO."""
    for record in records:
        registered, mpxn = record.get("registered_network_operator_id"), record.get("mpxn")
        if record["reason"] != Reason.FOREIGN_NETWORK_OPERATOR or not registered or not mpxn:
            continue
        owners = set(record["certificate_party_ids"])
        if len(owners) != 1 or "" in owners or registered in owners:
            continue
        at = record["as_of"]
        supplier = party_of(record["originator_id"], at) or record["originator_id"]
        yield Evidence(Rule.SUPPLIERS, mpxn, registered, owners.pop(), supplier, at, record["request_id"])


def from_placements(
    srs: Iterable[ServiceRequest], directory: PartyDirectory, registered_of: RegisteredOf
) -> Iterator[Evidence]:
    """NOs' own 6.15.1s (exempt, on the accepted topic) placing only their own certificates on a device whose
    MPxN is registered to another NO; looked up in batches."""
    reader = CertificateReader()
    pending: list[tuple[ServiceRequest, str]] = []

    def owners(sr: ServiceRequest) -> set[str | None]:
        found: set[str | None] = set()
        for certificate in sr.certificates:
            try:
                found.add(directory.party_of(reader.read(certificate.der).entity_id, sr.as_of))
            except CertificateError:
                found.add(None)
        return found

    def flush() -> Iterator[Evidence]:
        registered = registered_of([(sr.mpxn, sr.as_of) for sr, _ in pending])
        for (sr, operator), holder in zip(pending, registered, strict=True):
            if holder and holder != operator and sr.mpxn:
                yield Evidence(Rule.OPERATOR, sr.mpxn, holder, operator, operator, sr.as_of, sr.request_id)
        pending.clear()

    for sr in srs:
        if not is_exempt(sr.service_reference_variant, sr.user_role) or not sr.mpxn or not sr.certificates:
            continue
        if sr.remote_party_role is not RemotePartyRole.NETWORK_OPERATOR:
            continue
        operator = directory.party_of(sr.originator_id, sr.as_of)
        if operator is not None and owners(sr) == {operator}:
            pending.append((sr, operator))
            if len(pending) >= LOOKUP_BATCH:
                yield from flush()
    if pending:
        yield from flush()


def evidence_of(
    records: Iterable[dict[str, Any]],
    accepted: Iterable[ServiceRequest] | None,
    views: Iterable[DeviceView] | None,
    directory: PartyDirectory,
    registered_of: RegisteredOf,
    now: int,
    min_days: int,
) -> Iterator[Evidence]:
    """Every rule's evidence: rejection/audit records, accepted SRs (None: not read), the ledger's devices."""
    yield from from_rejections(records, directory.party_of)
    if accepted is not None:
        yield from from_placements(accepted, directory, registered_of)
    if views is not None:
        yield from from_ledger(views, directory, now, min_days)


def _settled(holding: Holding | None) -> Holding | None:
    """What the cell is known to hold: a pending placement's predecessor (the SR may still fail)."""
    while holding is not None and holding.placement.status is Status.PENDING:
        holding = holding.previous
    return holding


def from_ledger(views: Iterable[DeviceView], directory: PartyDirectory, now: int, min_days: int) -> Iterator[Evidence]:
    """Devices whose NO cells hold another NO's certificates: read from the device, or confirmed ``min_days`` ago."""
    for view in views:
        if not view.mpxn or view.registered.startswith("("):
            continue
        for cell in CELLS:
            holding = _settled(view.cells.cell(cell))
            if holding is None or (
                holding.placement.status is Status.CONFIRMED and now - holding.placement.at < min_days * DAY
            ):
                continue
            owner = directory.owner(holding.entity, now)
            if owner is None or owner.role not in NETWORK_OPERATOR_ROLES or owner.party_id == view.registered:
                continue
            reference = f"{view.device_id} {cell.value}"
            yield Evidence(
                Rule.LEDGER, view.mpxn, view.registered, owner.party_id, view.device_id, holding.placement.at, reference
            )


@dataclass(frozen=True)
class Measured:
    """The suspects against a known truth (the simulator's planted wrong registrations): (MPxN, true NO) pairs."""

    found: int
    true_positives: int
    planted: int

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.found if self.found else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.planted if self.planted else None


def measure(findings: Findings, truth: Iterable[tuple[str, str]]) -> Measured:
    planted = set(truth)
    listed = {(s.mpxn, s.pointed) for s in findings.suspects}
    return Measured(len(listed), len(listed & planted), len(planted))
