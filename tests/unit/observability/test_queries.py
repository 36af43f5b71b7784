"""Every PromQL expression in the dashboard and the alert rules names only metrics srguard exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from processor.observability.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
SUFFIXES = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"], "info": ["_info"]}


def exported_names() -> set[str]:
    names = set()
    for family in Metrics().registry.collect():
        names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return names


def named_metrics(expression: str) -> set[str]:
    return set(re.findall(r"\b(srguard_[a-z0-9_]+)", expression))


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "srguard-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "srguard-alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def test_dashboard_queries_name_only_exported_metrics():
    exported, expressions = exported_names(), dashboard_expressions()
    assert len(expressions) >= 20
    for expression in expressions:
        unknown = named_metrics(expression) - exported
        assert not unknown, f"{expression!r} names {unknown}, which srguard does not export"


def test_alert_rules_name_only_exported_metrics():
    exported = exported_names()
    for expression in alert_expressions():
        unknown = named_metrics(expression) - exported - {"srguard_"}
        assert not unknown, f"{expression!r} names {unknown}"


def test_the_dashboard_covers_what_sres_asked_for():
    used = set().union(*(named_metrics(e) for e in dashboard_expressions()))
    for needed in (
        "srguard_sr_consumed_total",
        "srguard_sr_rejected_total",
        "srguard_incidents_total",
        "srguard_sr_processing_seconds_bucket",
        "srguard_consumer_lag_records",
        "srguard_feed_lag_seconds",
        "srguard_feed_ready",
        "srguard_sr_dlq_total",
        "srguard_transactions_total",
    ):
        assert needed in used, needed


def test_every_alert_has_a_unit_test_and_a_runbook_entry():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "srguard-alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((DEPLOY / "prometheus" / "tests" / "srguard-alerts-test.yml").read_text())
    tested = {
        case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"] if case.get("exp_alerts")
    }
    assert alerts == tested, f"alerts without a firing test: {alerts - tested}"
    readme = (DEPLOY.parent / "README.md").read_text()
    assert all(f"`{alert}`" in readme for alert in alerts), "every alert needs a runbook entry in the README"


def _dashboard() -> dict:
    return json.loads((DEPLOY / "grafana" / "srguard-dashboard.json").read_text())


def test_every_query_is_scoped_by_the_namespace_and_instance_variables():
    variables = {v["name"] for v in _dashboard()["templating"]["list"]}
    assert {"namespace", "instance"} <= variables
    for expression in dashboard_expressions():
        for metric in re.findall(r"\b(srguard_[a-z0-9_]+)", expression):
            assert re.search(rf'{metric}\{{namespace=~"\$namespace", instance=~"\$instance"', expression), (
                metric,
                expression,
            )


def test_bar_and_pie_charts_ask_for_one_value_per_series():
    for panel in _dashboard()["panels"]:
        if panel["type"] in ("barchart", "piechart"):
            assert all(t.get("instant") is True and t.get("range") is False for t in panel["targets"]), panel["title"]


def _kind(expression: str) -> str:
    """What a query measures, by the metric it reads (enough for srguard's dashboard)."""
    if "_seconds" in expression:
        return "seconds"
    if re.search(r"srguard_(feed_)?ready|srguard_paused", expression):
        return "state"
    if "rate(" in expression and "increase(" not in expression:
        return "per second"
    return "count"


def test_no_panel_puts_two_kinds_of_unit_on_one_axis():
    for panel in _dashboard()["panels"]:
        overridden = {
            o["matcher"]["options"]
            for o in panel["fieldConfig"].get("overrides", [])
            if o["matcher"]["id"] == "byFrameRefID" and any(p["id"] == "unit" for p in o["properties"])
        }
        kinds = {_kind(t["expr"]) for t in panel["targets"] if t["refId"] not in overridden}
        assert len(kinds) == 1, f"{panel['title']}: {kinds} on one axis"


def test_the_pie_counts_rejections_and_would_be_rejections_alike():
    (pie,) = (p for p in _dashboard()["panels"] if p["type"] == "piechart")
    (expression,) = (t["expr"] for t in pie["targets"])
    # `a or b` drops b's series whenever a has the same labels: each side is tagged first.
    assert expression.count("label_replace(") == 2 and "srguard_sr_audited_total" in expression


def test_consumer_lag_is_exported_for_the_partitions_fetched_and_dropped_for_the_rest():
    from processor.observability.metrics import Metrics

    metrics = Metrics()

    def stats(state: str, lag: int) -> str:
        partitions = {
            "0": {"fetch_state": "active", "consumer_lag": 7},
            "1": {"fetch_state": state, "consumer_lag": lag},
        }
        return json.dumps({"topics": {"dcc.sr.requests": {"partitions": {**partitions, "-1": {"consumer_lag": 9}}}}})

    def lag(partition: str) -> float | None:
        labels = {"topic": "dcc.sr.requests", "partition": partition}
        return metrics.registry.get_sample_value("srguard_consumer_lag_records", labels)

    metrics.observe_consumer_stats(stats("active", 3))
    assert (lag("0"), lag("1"), lag("-1")) == (7, 3, None)
    metrics.observe_consumer_stats(stats("none", -1))  # partition 1 revoked: its series goes
    assert (lag("0"), lag("1")) == (7, None)
