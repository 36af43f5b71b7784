"""Identifiers are never cut in srguard's tables (issue 37): at 40 columns a long cell folds, whole."""

from __future__ import annotations

import io

from rich.table import Table

from processor.cli.common import FoldingConsole

REQUEST_ID = "90-B3-D5-1F-30-01-00-00:00-12-4B-00-00-00-06-B5:1000000000012"


def test_a_long_identifier_folds_whole_instead_of_an_ellipsis():
    out = io.StringIO()
    console = FoldingConsole(file=out, width=40)
    table = Table("request", "outcome")
    table.add_row(REQUEST_ID, "rejected")
    console.print(table)
    text = out.getvalue()
    assert "…" not in text
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│"))
    assert REQUEST_ID in cells
