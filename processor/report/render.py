"""Render IncidenceStats: terminal tables, CSV and JSON for analysts, a self-contained HTML report."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from processor.report.stats import IncidenceStats

TOP = 15
NO_CHARTS = (
    "Charts need matplotlib: pip install 'srguard[report]'. The tables and the CSV/JSON files hold every figure."
)
CHARTS = {  # chart title -> breakdown name (see IncidenceStats.tables)
    "Incidents per week": "week",
    "Incidents by reason": "reason",
    "Incidents by registered network operator": "registered network operator",
    "Incidents by originating supplier": "originating supplier",
    "Incidents by certificate owner": "certificate owner",
    "Incidents by SR variant and device type": "SR variant and device type",
}


def _headline(stats: IncidenceStats) -> str:
    rate = stats.rate_per_10k
    scope = (
        f" among {stats.in_scope:,} in-scope SRs: {rate:.2f} per 10,000"
        if rate is not None
        else " (incidence rate needs a requests source: --requests-topic or --requests-archive)"
    )
    return f"{stats.total:,} incidents{scope}"


def print_terminal(stats: IncidenceStats, console: Console) -> None:
    console.print(f"[bold]{_headline(stats)}[/]")
    for name, counts in stats.tables().items():
        if name == "day" or not counts:
            continue
        table = Table(name, "incidents", "share", title=f"by {name}")
        ordered = sorted(counts.items()) if name == "week" else counts.most_common(TOP)
        for key, count in ordered:
            table.add_row(key, f"{count:,}", f"{count / stats.total:.1%}")
        console.print(table)


def write_csv(stats: IncidenceStats, path: Path) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["breakdown", "key", "incidents"])
        writer.writerow(["total", "all", stats.total])
        if stats.in_scope is not None:
            writer.writerow(["total", "in_scope_srs", stats.in_scope])
        for name, counts in stats.tables().items():
            for key, count in sorted(counts.items()):
                writer.writerow([name, key, count])


def to_json(stats: IncidenceStats) -> dict[str, object]:
    return {
        "total": stats.total,
        "in_scope": stats.in_scope,
        "rate_per_10k": stats.rate_per_10k,
        **{name: dict(sorted(counts.items())) for name, counts in stats.tables().items()},
    }


def _chart(title: str, counts: Counter[str], chronological: bool) -> bytes:
    import matplotlib  # the [report] extra: the processor's image does not carry it

    matplotlib.use("Agg")  # no display: render to PNG bytes
    import matplotlib.pyplot as plt

    items = sorted(counts.items()) if chronological else counts.most_common(TOP)[::-1]
    labels, values = [k for k, _ in items], [v for _, v in items]
    figure, axis = plt.subplots(figsize=(9, max(3.0, 0.32 * len(items) + 1.2)) if not chronological else (9, 3.6))
    if chronological:
        axis.bar(range(len(values)), values, color="#b23a48")
        step = max(1, len(labels) // 12)
        axis.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right", fontsize=8)
        axis.set_ylabel("incidents")
    else:
        axis.barh(labels, values, color="#2f6690")
        axis.set_xlabel("incidents")
        axis.tick_params(axis="y", labelsize=8)
    axis.set_title(title)
    axis.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def _sections_html(sections: dict[str, Counter[str]]) -> str:
    parts = []
    for title, counts in sections.items():
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:,}</td></tr>" for k, v in counts.most_common())
        parts.append(f"<h2>{html.escape(title)}</h2><table><tr><th></th><th>devices</th></tr>{rows}</table>")
    return "".join(parts)


def print_sections(sections: dict[str, Counter[str]], console: Console) -> None:
    for title, counts in sections.items():
        table = Table("key", "devices", title=title)
        for key, count in counts.most_common():
            table.add_row(key, f"{count:,}")
        console.print(table)


def write_html(stats: IncidenceStats, path: Path, source: str, sections: dict[str, Counter[str]] | None = None) -> int:
    """Write the report (plus ``sections``: extra titled tables, e.g. the ledger's); returns the chart count."""
    tables = stats.tables()
    charts = []
    for title, name in CHARTS.items():
        if not tables[name]:
            continue
        try:
            png = base64.b64encode(_chart(title, tables[name], chronological=name == "week")).decode()
        except ImportError:
            charts = [f'<p class="note">{html.escape(NO_CHARTS)}</p>']
            break
        charts.append(f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{png}"></figure>')
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:,}</td></tr>" for k, v in stats.pairs.most_common(TOP))
    reasons = (
        "".join(
            f"<tr><td>{html.escape(k)}</td><td>{v:,}</td><td>{v / stats.total:.1%}</td></tr>"
            for k, v in stats.by_reason.most_common()
        )
        if stats.total
        else ""
    )
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    path.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>srguard incidence report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 960px; color: #222; }}
h1 {{ font-size: 1.5rem; }} .headline {{ font-size: 1.2rem; background: #f3f5f7; padding: .8rem 1rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; }} td, th {{ border-bottom: 1px solid #ddd; padding: .3rem .8rem; }}
figure {{ margin: 1.5rem 0; }} img {{ max-width: 100%; }} .note {{ color: #666; font-size: .85rem; }}
</style></head><body>
<h1>Incorrect Network Operator certificates: incidence report</h1>
<p class="headline">{html.escape(_headline(stats))}</p>
<p class="note">Source: {html.escape(source)}. Generated {generated} by srguard. Response codes are this
project's own (SECMP0063 was withdrawn; DUIS defines none).</p>
<h2>By reason</h2><table><tr><th>reason</th><th>incidents</th><th>share</th></tr>{reasons}</table>
{"".join(charts)}
<h2>Top supplier → registered network operator pairs</h2>
<table><tr><th>pair (certificates placed)</th><th>incidents</th></tr>{rows}</table>
{_sections_html(sections or {})}
</body></html>
""")
    return sum(1 for chart in charts if chart.startswith("<figure"))
