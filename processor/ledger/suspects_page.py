"""The suspects as people and tools read them: a terminal table, CSV, JSON, one HTML page, Avro records."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from processor.domain.identifiers import operator_label
from processor.ledger.evidence_page import page_html, table_html
from processor.ledger.suspects import COUNTED_PER, POINTS, Findings, Measured, Rule, Suspect
from processor.times import iso_utc

SHOWN = 25  # suspects in the terminal; the files hold them all
LISTING_HEAD = ["MPxN", "fuel", "registered NO", "evidence points to", "score", "evidence", "seen", "data owner"]
SIDES_HEAD = ["Network Operator", "suspects where registered", "suspects pointing to it"]
RULE_TEXT = {
    Rule.SUPPLIERS: "Supplier SRs rejected for placing this NO's certificates",
    Rule.OPERATOR: "the NO's own 6.15.1 placing its certificates",
    Rule.LEDGER: "device cells holding this NO's certificates (read or confirmed)",
}


def evidence_text(suspect: Suspect) -> str:
    """'2 Suppliers, 1 NO SR, 1 device': each rule's independent pieces."""
    counts = suspect.counts
    names = {Rule.SUPPLIERS: "Supplier", Rule.OPERATOR: "NO SR", Rule.LEDGER: "device"}
    return ", ".join(f"{n} {names[r]}{'s' if n > 1 else ''}" for r in Rule if (n := counts[r]))


def _day(ms: int) -> str:
    return iso_utc(ms)[:10]


def measured_text(measured: Measured) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    return (
        f"against the planted truth: precision {pct(measured.precision)} ({measured.true_positives:,} of "
        f"{measured.found:,} listed), recall {pct(measured.recall)} ({measured.true_positives:,} of "
        f"{measured.planted:,} planted)"
    )


def print_suspects(findings: Findings, threshold: int, console: Console) -> None:
    read = ", ".join(f"{findings.evidence[r]:,} {r.value}" for r in Rule)
    console.print(
        f"evidence read: {read}; {len(findings.suspects):,} suspect MPxNs (score >= {threshold}), "
        f"{findings.below_threshold:,} below the threshold, {findings.corrected:,} corrected since",
        soft_wrap=True,
    )
    if not findings.suspects:
        return
    table = Table(*LISTING_HEAD)
    for s in findings.suspects[:SHOWN]:
        seen = f"{_day(s.first_seen)} .. {_day(s.last_seen)}"
        table.add_row(s.mpxn, s.fuel, s.registered, s.pointed, str(s.score), evidence_text(s), seen, s.data_owner)
    more = len(findings.suspects) - SHOWN
    table.title = "Suspect registrations" + (f" (the first {SHOWN}; {more:,} more in the files)" if more > 0 else "")
    console.print(table)
    sides = Table(*SIDES_HEAD)
    registered, pointed = findings.by("registered"), findings.by("pointed")
    for operator in sorted(set(registered) | set(pointed), key=lambda o: -(registered[o] + pointed[o])):
        sides.add_row(operator_label(operator), f"{registered[operator]:,}", f"{pointed[operator]:,}")
    console.print(sides)


def rows(findings: Findings) -> list[list[object]]:
    return [
        [
            s.mpxn, s.fuel, s.registered, s.pointed, s.data_owner, s.score,
            *(s.counts[r] for r in Rule), iso_utc(s.first_seen), iso_utc(s.last_seen),
        ]
        for s in findings.suspects
    ]  # fmt: skip


HEAD = [
    "mpxn", "fuel", "registered_no", "pointed_no", "data_owner", "score",
    *(f"{r.value}_count" for r in Rule), "first_seen", "last_seen",
]  # fmt: skip


def to_json(findings: Findings, context: dict[str, str], measured: Measured | None = None) -> dict[str, Any]:
    rules = {r.value: {"points": POINTS[r], "counted_per": COUNTED_PER[r], "what": RULE_TEXT[r]} for r in Rule}
    return {
        "context": context,
        "rules": rules,
        "evidence_read": {r.value: findings.evidence[r] for r in Rule},
        "below_threshold": findings.below_threshold,
        "corrected_since": findings.corrected,
        "by_registered_no": dict(findings.by("registered").most_common()),
        "by_pointed_no": dict(findings.by("pointed").most_common()),
        "measured": None if measured is None else {**vars(measured), "precision": measured.precision,
                                                   "recall": measured.recall},
        "suspects": [
            dict(zip(HEAD, row, strict=True))
            | {"evidence": [{"rule": e.rule.value, "by": e.by, "reference": e.reference, "at": iso_utc(e.at)}
                            for e in s.evidence]}
            for s, row in zip(findings.suspects, rows(findings), strict=True)
        ],
    }  # fmt: skip


def avro_record(suspect: Suspect, threshold: int, found_at: int) -> dict[str, Any]:
    return {
        "mpxn": suspect.mpxn,
        "fuel": suspect.fuel,
        "registered_network_operator_id": suspect.registered,
        "pointed_network_operator_id": suspect.pointed,
        "data_owner": suspect.data_owner,
        "score": suspect.score,
        "threshold": threshold,
        "evidence": [
            {"rule": e.rule.value, "by": e.by, "reference": e.reference, "at": e.at} for e in suspect.evidence
        ],
        "found_at": found_at,
    }


def write_suspects(
    findings: Findings, context: dict[str, str], out: Path, measured: Measured | None = None
) -> list[Path]:
    """suspects.csv, suspects-evidence.csv (one line per piece), suspects.json and suspects.html in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "suspects.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([HEAD, *rows(findings)])
    with (out / "suspects-evidence.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["mpxn", "pointed_no", "registered_no", "rule", "by", "reference", "at"])
        for s in findings.suspects:
            writer.writerows([s.mpxn, e.pointed, e.registered, e.rule.value, e.by, e.reference, iso_utc(e.at)]
                             for e in s.evidence)  # fmt: skip
    (out / "suspects.json").write_text(json.dumps(to_json(findings, context, measured), indent=2))
    rules = table_html(
        ["rule", "points", "counted once per", "what it is"],
        [[r.value, POINTS[r], COUNTED_PER[r], RULE_TEXT[r]] for r in Rule],
    )
    facts = {**context} | ({"measured": measured_text(measured)} if measured else {})
    registered, pointed = findings.by("registered"), findings.by("pointed")
    sides = [
        [operator_label(o), registered[o], pointed[o]]
        for o in sorted(set(registered) | set(pointed), key=lambda o: -(registered[o] + pointed[o]))
    ]
    listing = [
        [s.mpxn, s.fuel, s.registered, s.pointed, s.score, evidence_text(s), f"{_day(s.first_seen)} .. "
         f"{_day(s.last_seen)}", s.data_owner]
        for s in findings.suspects
    ]  # fmt: skip
    (out / "suspects.html").write_text(
        page_html(
            "srguard suspect registrations",
            f"""
<h1>Suspect registrations: MPxNs whose registered Network Operator srguard's records contradict</h1>
<p class="note">Each piece of evidence says another NO runs the MPxN. An MPxN is listed when its evidence for one
NO reaches {int(context.get("threshold", "4"))} points; the rules below are all there is. Evidence read:
{", ".join(f"{findings.evidence[r]:,} {r.value}" for r in Rule)}; {findings.below_threshold:,} (MPxN, NO) pairs
stayed below the threshold; {findings.corrected:,} were registered to the NO pointed at by now. Every piece is in
suspects-evidence.csv with its RequestID or device.</p>
{table_html(["", ""], [[k, v] for k, v in facts.items()])}
<h2>The rules</h2>{rules}
<h2>Suspects ({len(findings.suspects):,})</h2>
{table_html(LISTING_HEAD, listing, "listing")}
<h2>By Network Operator</h2>{table_html(SIDES_HEAD, sides)}""",
            ".listing td { white-space: nowrap; }\n",
        )
    )
    return [out / "suspects.csv", out / "suspects-evidence.csv", out / "suspects.json", out / "suspects.html"]
