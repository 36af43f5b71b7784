"""How registration data and its bulk loads look in a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from processor.domain.identifiers import canonical_eui64
from processor.domain.model import Device, Party, Registration
from processor.registration.csvsource import LoadSummary
from processor.times import iso_utc as _iso


def print_load_summary(summary: LoadSummary, what: str, console: Console, err: Console) -> None:
    """The summary line on ``console``; each rejected line and warning (up to the kept examples) on ``err``. One
    line each, however narrow the terminal or pipe (a script greps them; a long path used to break one in two)."""
    counts = ", ".join(f"{v} {k}" for k, v in sorted(summary.counts.items()))
    console.print(
        f"{what}: {summary.lines} lines in {summary.seconds:.1f}s ({summary.rate:,.0f} lines/s); "
        f"{counts}; {summary.rejected_total} rejected; {summary.warnings_total} warnings",
        soft_wrap=True,
    )
    for line, reason in summary.rejected:
        err.print(f"  line {line}: rejected: {reason}", soft_wrap=True)
    if summary.rejected_total > len(summary.rejected):
        err.print(f"  ... and {summary.rejected_total - len(summary.rejected)} more rejected lines")
    for line, reason in summary.warnings:
        err.print(f"  line {line}: warning: {reason}", soft_wrap=True)
    if summary.warnings_total > len(summary.warnings):
        err.print(f"  ... and {summary.warnings_total - len(summary.warnings)} more warnings")


def history_table(mpxn: str, at: int, history: list[Registration], current: Registration | None) -> Table:
    table = Table(
        "effective_from (UTC)",
        "network operator",
        "supplier",
        "fuel",
        "sequence",
        "in force",
        title=f"{mpxn} at {_iso(at)}",
    )
    for record in history:
        table.add_row(
            _iso(record.effective_from),
            record.network_operator_id or "—",
            record.supplier_id or "—",
            record.fuel.value,
            str(record.sequence),
            "◀" if record == current else "",
        )
    return table


def holders_table(entity_id: str, held: list[Party]) -> Table:
    table = Table("party", "role", "valid_from", "valid_to", title=canonical_eui64(entity_id))
    for party in held:
        table.add_row(
            party.party_id,
            party.role,
            _iso(party.valid_from) if party.valid_from else "—",
            _iso(party.valid_to) if party.valid_to else "—",
        )
    return table


def device_table(device_id: str, at: int, history: list[Device], current: Device | None) -> Table:
    table = Table(
        "effective_from (UTC)",
        "type",
        "MPxNs",
        "status",
        "sequence",
        "in force",
        title=f"{canonical_eui64(device_id)} at {_iso(at)}",
    )
    for record in history:
        table.add_row(
            _iso(record.effective_from),
            record.device_type.value,
            ", ".join(record.mpxns) or "—",
            record.status.value,
            str(record.sequence),
            "◀" if record == current else "",
        )
    return table
