"""The evidence pack as one self-contained HTML page (charts as embedded PNG), beside its CSV and JSON."""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

from processor.domain.identifiers import operator_label
from processor.history.page import NO_CHARTS, figure_html, png_of, pyplot, timeline_chart
from processor.history.stats import auto_period, series
from processor.ledger.evidence import Evidence, to_json, without_credentials, write_csv


def share_chart(evidence: Evidence) -> str:
    """Per NO: the share of its devices that would-be-blocked SRs touch, beside the share never updated."""
    plt = pyplot()
    rows = [r for r in evidence.rows if r.devices][::-1]
    figure, axis = plt.subplots(figsize=(9.5, max(2.6, 0.42 * len(rows) + 1.4)))
    ys = range(len(rows))
    blocked = [r.share(r.would_block_devices) or 0.0 for r in rows]
    never = [r.share(r.never_updated) or 0.0 for r in rows]
    axis.barh(
        [y + 0.2 for y in ys],
        blocked,
        height=0.4,
        color="#b23a48",
        label="devices touched by SRs the check would block",
    )
    axis.barh([y - 0.2 for y in ys], never, height=0.4, color="#e09f3e", label="devices never updated")
    axis.set_yticks(list(ys), [f"{r.operator} ({r.kind})" for r in rows], fontsize=8)
    axis.set_xlabel("% of the NO's ESMEs and GPFs in service")
    axis.set_title("Share of each Network Operator's devices", pad=22)
    axis.spines[["top", "right"]].set_visible(False)
    axis.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=8, frameon=False)
    return png_of(figure)


def months_chart(counts: dict[str, int]) -> str:
    """Never-updated devices by month of commissioning, every month of the span on a true date axis."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    first, last = dt.date.fromisoformat(min(counts) + "-01"), dt.date.fromisoformat(max(counts) + "-01")
    months = []
    while first <= last:
        months.append(first)
        first = (first + dt.timedelta(days=32)).replace(day=1)
    figure, axis = plt.subplots(figsize=(9.5, 3.4))
    axis.bar(months, [counts.get(m.strftime("%Y-%m"), 0) for m in months], width=26, align="edge", color="#e09f3e")
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel("devices")
    axis.set_title("Devices never updated, by month of commissioning (empty months are zero)")
    axis.spines[["top", "right"]].set_visible(False)
    return png_of(figure)


def table_html(head: list[str], rows: list[list[object]], kind: str = "") -> str:
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    opening = f'<table class="{kind}">' if kind else "<table>"
    return opening + "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + f"</tr>{cells}</table>"


def page_html(title: str, body: str, style: str = "") -> str:
    """A self-contained page in the packs' look (the evidence pack, the suspects); ``style``: its own rules."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: .85rem; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: bottom; }}
th {{ max-width: 9rem; }}
figure {{ margin: 1.5rem 0; }} img {{ max-width: 100%; }} .note {{ color: #555; font-size: .85rem; }}
{style}</style></head><body>
{body}
</body></html>
"""


def _count_share(count: int, share: float | None) -> str:
    """'12 (0.4%)': a count with its share of the NO's devices, rounded as a person reads it."""
    if share is None:
        return f"{count:,}"
    return f"{count:,} ({share:.1f}%)" if share >= 0.1 or not count else f"{count:,} (<0.1%)"


OPERATOR_HEAD = [
    "Network Operator", "kind", "SMKI credentials", "meter points", "devices in service",
    "would-be-blocked SRs (wrong certificates)", "devices they touch", "never updated", "holding another party's",
]  # fmt: skip


def _operator_rows(evidence: Evidence) -> list[list[object]]:
    """The per-NO table as people read it (evidence.csv keeps every raw count and share)."""
    return [
        [
            operator_label(r.operator) if r.operator != "(none)" else "(no NO registered)",
            r.kind,
            "yes" if r.has_credentials else "-" if r.operator == "(none)" else "none",
            f"{r.meter_points:,}",
            f"{r.devices:,}",
            f"{r.would_block_srs:,} ({r.would_block_wrong_certificate:,})",
            _count_share(r.would_block_devices, r.share(r.would_block_devices)),
            _count_share(r.never_updated, r.share(r.never_updated)),
            _count_share(r.wrong, r.share(r.wrong)),
        ]
        for r in evidence.rows
    ]


def write_evidence(evidence: Evidence, context: dict[str, str], out: Path) -> list[Path]:
    """evidence.html, evidence.json, evidence.csv and evidence-breakdowns.csv in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = write_csv(evidence, out)
    (out / "evidence.json").write_text(json.dumps(to_json(evidence, context), indent=2))
    charts: list[str] = []
    try:
        charts.append(figure_html("Share of each NO's devices", share_chart(evidence)))
        if evidence.stats.total:
            period = auto_period(evidence.stats.first_day, evidence.stats.last_day)
            charts.append(figure_html("Would-be-blocked SRs", timeline_chart(series(evidence.stats, period), period)))
        if evidence.never_by_month:
            charts.append(figure_html("Never updated by month", months_chart(dict(evidence.never_by_month))))
    except ImportError:
        charts = [f'<p class="note">{html.escape(NO_CHARTS)}</p>']
    missing = without_credentials(evidence)
    missing_rows: list[list[object]] = [
        [operator_label(r.operator), r.kind, r.meter_points, r.devices] for r in missing
    ]
    facts = table_html(["", ""], [[k, v] for k, v in context.items()])
    breakdowns = "".join(
        f"<h2>{html.escape(title.capitalize())}</h2>"
        + table_html(["key", "devices"], [[k, f"{n:,}"] for k, n in c.most_common()])
        for title, c in evidence.breakdowns.items()
    )
    (out / "evidence.html").write_text(
        page_html(
            "srguard evidence pack",
            f"""
<h1>SECMP0063 evidence pack: incorrect Network Operator certificates, per Network Operator</h1>
<p class="note">"Would be blocked": the SRs in the source below that srguard rejected (enforce mode) or recorded as
would-be rejections (audit mode) in the window ("decided in" says which), with the share of the NO's ESMEs and
GPFs in service they touch. "Never updated": devices whose NO cells still hold pre-loaded Supplier/ACB
certificates {evidence.min_days}+ days after commissioning. Shares are of the NO's devices in service; every
figure is in evidence.csv with its denominator.</p>
{facts}
{"".join(charts)}
<h2>Per Network Operator</h2>{table_html(OPERATOR_HEAD, _operator_rows(evidence))}
<h2>Network Operators registered for meter points with no SMKI credentials ({len(missing)})</h2>
{table_html(["network operator", "kind", "meter points", "devices in service"], missing_rows)}
{breakdowns}""",
        )
    )
    return [*written, out / "evidence.json", out / "evidence.html"]
