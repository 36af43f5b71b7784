"""``srguard report``: incidence statistics from a rejection or audit topic (or archive)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from processor import __version__, wiring
from processor.cli.common import (
    AllowEmpty,
    Bootstrap,
    ConfigFile,
    RedisUrl,
    Since,
    Until,
    console,
    empty_window,
    err,
    fail,
    held_text,
    moment,
    settings_from,
    times,
    window_text,
)
from processor.config import InputFormat
from processor.history.render import ReportContext
from processor.history.sources import Recorded, recorded_issuers, recorded_mode, rejections_and_scope
from processor.history.stats import PERIODS, aggregate, auto_period


def report(
    topic: Annotated[str | None, typer.Option(help="Rejection or audit topic to read.")] = None,
    archive: Annotated[
        Path | None, typer.Option(help="An SrRejection archive instead of a topic.", exists=True)
    ] = None,
    requests_topic: Annotated[str | None, typer.Option(help="SR topic, for the in-scope denominators.")] = None,
    requests_archive: Annotated[
        Path | None, typer.Option(help="SR archive, for the denominators.", exists=True)
    ] = None,
    since: Since = None,
    until: Until = None,
    period: Annotated[str, typer.Option(help="Time series by day, week or month; auto: by the window's length.")] = (
        "auto"
    ),
    allow_empty: AllowEmpty = False,
    out: Annotated[Path, typer.Option(help="Folder for incidence.csv, .json and .html.")] = Path("srguard-report"),
    with_ledger: Annotated[bool, typer.Option(help="Add the NO-cell ledger's section (needs Redis).")] = False,
    min_days: Annotated[int, typer.Option(help="With --with-ledger: 'never updated' after this many days.")] = 30,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
    redis_url: RedisUrl = None,
) -> None:
    """Incidence statistics: wrong certificates and registration-data gaps apart, with rates per 10,000
    in-scope SRs, by NO, certificate owner, supplier, SR, reason and over time (tables, CSV, JSON, HTML)."""
    from processor.history.page import NO_CHARTS, write_report
    from processor.history.render import print_sections, print_terminal
    from processor.ledger.population import population_at
    from processor.ledger.population import sections as ledger_sections

    if (topic is None) == (archive is None):
        raise fail("give exactly one of --topic or --archive")
    if period not in ("auto", *PERIODS):
        raise fail(f"--period takes auto, day, week or month, not {period}")
    settings = settings_from(config, bootstrap_servers=bootstrap_servers, redis_url=redis_url)
    start, end = times(since, until)
    lookups = wiring.report_lookups(settings)
    directory, registered, subjects = lookups if lookups else (None, None, None)
    party_of = directory.party_of if directory else None
    if settings.input_format is InputFormat.DUIS and subjects is None and (requests_topic or requests_archive):
        raise fail("Redis is unreachable: the scope of DUIS SRs needs its device inventory and party directory")
    notes = [] if lookups else ["Redis unreachable: suppliers are shown by entity id"]
    source = archive if archive is not None else topic or ""
    recorded = Recorded()
    rejections, scope = rejections_and_scope(
        settings.kafka_config("consumer"),
        wiring.serde_from(settings),
        source,
        requests_topic or requests_archive,
        party_of or (lambda _entity, _at: None),
        start,
        end,
        registered,
        recorded,
        subjects,
    )
    stats = aggregate(rejections, party_of or (lambda _entity, _at: None), scope, (start, end))
    if not stats.total and (scope is None or not scope.read):
        held_by = requests_topic or topic
        held = held_text(settings, held_by) if held_by else ""
        empty_window(
            f"no incidents and no SRs{'' if scope else ' (no requests source)'}", start, end, allow_empty, held
        )
    sections = {}
    if with_ledger:
        sections = ledger_sections(population_at(*wiring.reference_and_ledger(settings), moment(None), min_days))
    name = str(source)
    context = ReportContext(
        window=window_text(start, end),
        sources={"incidents": name} | ({"in-scope SRs": str(requests_topic or requests_archive)} if scope else {}),
        version=__version__,
        settings={
            "mode": recorded_mode(recorded.outcomes),
            "certificate issuers": recorded_issuers(recorded.issuers),
            "on_missing_registration": settings.on_missing_registration.value,
        },
        period=auto_period(stats.first_day, stats.last_day) if period == "auto" else period,
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        notes=notes,
    )
    print_terminal(stats, context, console)
    print_sections(sections, console)
    charts = write_report(stats, context, out, sections)
    console.print(
        f"wrote {out / 'incidence.csv'}, {out / 'incidence.json'} and {out / 'incidence.html'} ({charts} charts)"
    )
    if stats.total and not charts:
        err.print(f"note: {NO_CHARTS}")
