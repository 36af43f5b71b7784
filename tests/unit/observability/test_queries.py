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
        "srguard_incidents_by_network_operator_total",
        "srguard_incidents_by_supplier_total",
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
