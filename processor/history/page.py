"""The self-contained HTML report: the terminal's numbers (same rows) with charts embedded as PNG.

Charts keep the incident classes apart (stacked, one colour each), put the time series on a true time
axis (every period of the window, empty ones as zero, integer counts), and show the top keys of each
breakdown with an "others" bar for the rest.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

from processor.history.render import (
    TOP,
    ReportContext,
    denominator_basis,
    headline_text,
    key_label,
    rate_text,
    to_json,
    write_csv,
)
from processor.history.stats import (
    OWNER,
    REASON,
    REGISTERED_NO,
    SUPPLIER,
    VARIANT_DEVICE,
    IncidenceStats,
    IncidentClass,
    Row,
    Scope,
    series,
)

NO_CHARTS = (
    "Charts need matplotlib: pip install 'srguard[report]'. The tables and the CSV/JSON files hold every figure."
)
COLOURS = {
    IncidentClass.WRONG_CERTIFICATE: "#b23a48",
    IncidentClass.DATA_GAP: "#e09f3e",
    IncidentClass.REQUEST_FAULT: "#7d8597",
}
TOP_CHARTS = {  # chart title -> breakdown
    "Incidents by registered network operator": REGISTERED_NO,
    "Incidents by originating supplier": SUPPLIER,
    "Incidents by certificate owner": OWNER,
    "Incidents by SR variant and device type": VARIANT_DEVICE,
    "Incidents by reason": REASON,
}
CHART_TOP = 12
METHOD = """<h2>Method and caveats</h2><ul class="note">
<li><b>Scope.</b> Counted: Supplier SRs that SECMP0063 checks (6.15.1 to an ESME, 6.21 to an ESME or GPF) placing
certificates with RemotePartyRole NetworkOperator; an NO's own 6.15.1 is exempt and never an incident.</li>
<li><b>Denominators.</b> Each row's rate is per 10,000 in-scope SRs <i>with that row's key</i> where the requests
say it: that registered NO's meter points, that supplier's SRs, the SRs placing that owner's certificates, that
variant and device type, that period. Reasons and response codes are rated against all in-scope SRs.
Request faults can outnumber their denominator (they are counted among SRs the rule could not read as in scope):
no interval is given then.</li>
<li><b>Intervals.</b> 95% Wilson score intervals; a small denominator gives a wide one.</li>
<li><b>Classes.</b> Wrong certificates, registration-data gaps and request faults are different findings and are
never summed. A data gap says the DSP's data could not name the NO, not that the Supplier erred.</li>
<li><b>Codes.</b> Response codes are this project's own, not DUIS's.</li>
<li><b>Issuers.</b> "certificate issuers" above says whether certificates were checked against a trust store of
SMKI Organisation CAs; without one, an untrusted certificate with the right owner passes.</li>
<li><b>Time.</b> Every figure is by the SR's own time (its record timestamp), and judged by the registration in
force at that time.</li></ul>"""
PERIOD_DAYS = {"day": 1, "week": 7, "month": 30}


def pyplot() -> Any:
    import matplotlib  # the [report] extra: the processor's image does not carry it

    matplotlib.use("Agg")  # no display: render to PNG bytes
    import matplotlib.pyplot as plt

    return plt


def png_of(figure: Any) -> str:
    plt = pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")  # the legend and labels included
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def with_others(rows: list[Row], per_key: bool, top: int = CHART_TOP) -> list[Row]:
    """The ``top`` keys, then one "others (n)" row summing the rest (and their denominators, when each key
    has its own; otherwise every row shares the one total)."""
    if len(rows) <= top:
        return rows
    rest = rows[top - 1 :]
    counts = {kind: sum(r.counts[kind] for r in rest) for kind in IncidentClass}
    in_scope = sum(r.in_scope or 0 for r in rest) if per_key and rest[0].in_scope is not None else rest[0].in_scope
    return [*rows[: top - 1], Row(f"others ({len(rest)})", counts, in_scope)]


def _legend(axis: Any) -> None:
    """Above the plot, under the title: never over a bar."""
    axis.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, fontsize=8, frameon=False)


def timeline_chart(rows: list[Row], period: str) -> str:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    figure, axis = plt.subplots(figsize=(9.5, 3.8))
    starts = [dt.date.fromisoformat(row.key) for row in rows]
    bottom = [0] * len(rows)
    for kind in IncidentClass:
        values = [row.counts[kind] for row in rows]
        axis.bar(
            starts,
            values,
            width=PERIOD_DAYS[period] * 0.85,
            bottom=bottom,
            align="edge",
            color=COLOURS[kind],
            label=kind.label,
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel(f"incidents per {period}")
    axis.set_title(f"Incidents per {period} (by the SR's time; empty {period}s are zero)", pad=22)
    axis.spines[["top", "right"]].set_visible(False)
    _legend(axis)
    return png_of(figure)


def rate_chart(rows: list[Row], period: str) -> str:
    """Rates per 10,000 in-scope SRs each period, a line per class, over the in-scope volume as grey bars: a
    rising count with a rising volume is no rising rate."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    plt = pyplot()
    figure, volume_axis = plt.subplots(figsize=(9.5, 3.8))
    starts = [dt.date.fromisoformat(row.key) for row in rows]
    volume_axis.bar(
        starts, [row.in_scope or 0 for row in rows], width=PERIOD_DAYS[period] * 0.85, align="edge", color="#e6e8eb"
    )
    volume_axis.set_ylabel(f"in-scope SRs per {period} (bars)")
    axis = volume_axis.twinx()
    for kind in IncidentClass:
        rates = [row.rate(kind).per_10k for row in rows]
        axis.plot(starts, [r if r is not None else float("nan") for r in rates], color=COLOURS[kind], label=kind.label)
    axis.set_ylabel("per 10,000 in-scope SRs (lines)")
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    volume_axis.xaxis.set_major_locator(locator)
    volume_axis.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axis.set_title(f"Rates per 10,000 in-scope SRs per {period}, over the in-scope volume", pad=22)
    _legend(axis)
    return png_of(figure)


def top_chart(title: str, rows: list[Row], per_key: bool, breakdown: str = "") -> str:
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    shown = with_others(rows, per_key=per_key)[::-1]
    figure, axis = plt.subplots(figsize=(9.5, max(2.6, 0.34 * len(shown) + 1.3)))
    labels = [key_label(breakdown, row.key) for row in shown]
    left = [0] * len(shown)
    for kind in IncidentClass:
        values = [row.counts[kind] for row in shown]
        axis.barh(labels, values, left=left, color=COLOURS[kind], label=kind.label)
        left = [a + v for a, v in zip(left, values, strict=True)]
    for y, row in enumerate(shown):
        rate = row.rate().per_10k  # the bar is a count: its label says the count, then the rate
        said = f" {row.total:,}" + (f" · {rate:.1f} per 10k" if rate is not None else "")
        axis.annotate(said, (row.total, y), va="center", fontsize=7, color="#333")
    axis.set_xlim(0, max(row.total for row in shown) * 1.35 or 1)  # room for the labels
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("incidents")
    axis.tick_params(axis="y", labelsize=8)
    axis.set_title(title, pad=22)
    axis.spines[["top", "right"]].set_visible(False)
    _legend(axis)
    return png_of(figure)


def figure_html(title: str, png: str) -> str:
    return f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{png}"></figure>'


def _rows_table(breakdown: str, rows: list[Row], scope: Scope | None) -> str:
    head = "".join(f"<th>{html.escape(kind.label)}</th>" for kind in IncidentClass)
    rates = "".join(f"<th>{html.escape(kind.label)} per 10k [95% CI]</th>" for kind in IncidentClass)
    body = "".join(
        f"<tr><td>{html.escape(key_label(breakdown, row.key))}</td>"
        + "".join(f"<td>{row.counts[kind]:,}</td>" for kind in IncidentClass)
        + f"<td>{'-' if row.in_scope is None else f'{row.in_scope:,}'}</td>"
        + "".join(f"<td>{rate_text(row, kind)}</td>" for kind in IncidentClass)
        + "</tr>"
        for row in rows
    )
    return (
        f"<table><tr><th></th>{head}<th>in-scope SRs</th>{rates}</tr>{body}</table>"
        f'<p class="note">Rates per 10,000 {html.escape(denominator_basis(breakdown, scope))}.</p>'
    )


def _sections_html(sections: dict[str, Counter[str]]) -> str:
    parts = []
    for title, counts in sections.items():
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:,}</td></tr>" for k, v in counts.most_common())
        parts.append(f"<h2>{html.escape(title)}</h2><table><tr><th></th><th>devices</th></tr>{rows}</table>")
    return "".join(parts)


def write_html(
    stats: IncidenceStats, context: ReportContext, path: Path, sections: dict[str, Counter[str]] | None = None
) -> int:
    """Write the report (plus ``sections``: extra titled tables, e.g. the ledger's); returns the chart count."""
    charts: list[str] = []
    timeline = series(stats, context.period)
    try:
        if stats.total:
            charts.append(figure_html(f"Incidents per {context.period}", timeline_chart(timeline, context.period)))
            if stats.scope is not None:
                charts.append(figure_html(f"Rates per {context.period}", rate_chart(timeline, context.period)))
            for title, breakdown in TOP_CHARTS.items():
                per_key = stats.scope is not None and stats.scope.per_key(breakdown)
                charts.append(figure_html(title, top_chart(title, stats.rows(breakdown), per_key, breakdown)))
    except ImportError:
        charts = [f'<p class="note">{html.escape(NO_CHARTS)}</p>']
    tables = "".join(
        f"<h2>By {html.escape(name)}</h2>{_rows_table(name, stats.rows(name)[:TOP], stats.scope)}"
        for name in TOP_CHARTS.values()
    )
    pairs = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:,}</td></tr>" for k, v in stats.pairs.most_common(TOP))
    facts = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in {
            "window (SR time)": context.window,
            **{f"source: {k}": v for k, v in context.sources.items()},
            "srguard": context.version,
            **context.settings,
            "generated": context.generated,
        }.items()
    )
    notes = "".join(f'<p class="note">{html.escape(note)}</p>' for note in context.notes)
    path.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>srguard incidence report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #222; }}
h1 {{ font-size: 1.5rem; }} .headline {{ font-size: 1.15rem; background: #f3f5f7; padding: .8rem 1rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .3rem .7rem; text-align: left; }}
figure {{ margin: 1.5rem 0; }} img {{ max-width: 100%; }} .note {{ color: #555; font-size: .85rem; }}
</style></head><body>
<h1>Incorrect Network Operator certificates: incidence report</h1>
<p class="headline">{html.escape(headline_text(stats))}</p>
<p class="note">Wrong certificates (the Supplier placed certificates that are not the registered NO's) and
registration-data gaps (the DSP's registration, inventory or party data could not say who the NO is) are
different findings and are never added together below. Response codes are this project's own.</p>
{notes}
<table>{facts}</table>
<h2>Headline</h2>{_rows_table("headline", stats.headline(), stats.scope)}
{"".join(charts)}
{tables}
<h2>Top supplier → registered network operator pairs (wrong certificates with a known owner)</h2>
<table><tr><th>pair (certificates placed)</th><th>incidents</th></tr>{pairs}</table>
{_sections_html(sections or {})}
{METHOD}
</body></html>
""")
    return sum(1 for chart in charts if chart.startswith("<figure"))


def write_report(
    stats: IncidenceStats, context: ReportContext, out: Path, sections: dict[str, Counter[str]] | None = None
) -> int:
    """incidence.csv, .json and .html in ``out``, all from the same rows; returns the chart count."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(stats, context, out / "incidence.csv")
    document = to_json(stats, context)
    if sections:
        document["ledger"] = {title: dict(c) for title, c in sections.items()}
    (out / "incidence.json").write_text(json.dumps(document, indent=2))
    return write_html(stats, context, out / "incidence.html", sections)
