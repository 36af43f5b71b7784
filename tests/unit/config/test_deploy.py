"""deploy/kubernetes cannot be applied here: check what it says against the code."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from processor.config import KAFKA_ENV_PREFIX, Settings, load_settings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes"
SERVED_PATHS = {"/metrics", "/healthz", "/readyz"}  # processor/observability/http.py


def _documents() -> dict[str, dict]:
    found = {}
    for path in DEPLOY.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            found[f"{doc['kind']}/{doc.get('metadata', {}).get('name', path.stem)}"] = doc
    return found


@pytest.fixture(scope="module")
def docs() -> dict[str, dict]:
    return _documents()


def _is_setting(name: str) -> bool:
    if name.startswith(KAFKA_ENV_PREFIX):
        return True
    field, _, nested = name.removeprefix("SRGUARD_").lower().partition("__")
    return field in Settings.model_fields and (
        not nested or nested in Settings.model_fields[field].annotation.model_fields
    )


def test_kustomization_lists_every_manifest_and_only_those():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml"
    )


def test_every_env_name_is_a_setting_and_the_values_validate(docs):
    config = docs["ConfigMap/srguard-config"]["data"]
    secret = docs["Secret/srguard-secrets"]["stringData"]
    names = [*config, *secret]
    for deployment in ("Deployment/srguard-processor", "Deployment/srguard-feed"):
        for container in docs[deployment]["spec"]["template"]["spec"]["containers"]:
            names += [e["name"] for e in container.get("env", [])]
    unknown = [n for n in names if not _is_setting(n)]
    assert not unknown, f"not srguard settings: {unknown}"
    values = {k.removeprefix("SRGUARD_").lower(): v for k, v in config.items() if not k.startswith(KAFKA_ENV_PREFIX)}
    load_settings(**values)  # raises on a value the model refuses


def test_probes_point_at_served_paths_on_the_metrics_port(docs):
    port = int(docs["ConfigMap/srguard-config"]["data"]["SRGUARD_METRICS_PORT"])
    pod = docs["Deployment/srguard-processor"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in SERVED_PATHS and ports[get["port"]] == port, probe
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    service = docs["Service/srguard-metrics"]["spec"]
    assert service["ports"][0]["targetPort"] == "metrics" and service["selector"] == pod["metadata"]["labels"]


def test_graceful_termination_outlasts_the_shutdown_bound(docs):
    bound = float(docs["ConfigMap/srguard-config"]["data"]["SRGUARD_SHUTDOWN_TIMEOUT_S"])
    for deployment in ("Deployment/srguard-processor", "Deployment/srguard-feed"):
        assert docs[deployment]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > bound


def test_commands_requests_and_disruption_budget(docs):
    processor = docs["Deployment/srguard-processor"]["spec"]
    feed = docs["Deployment/srguard-feed"]["spec"]
    assert processor["template"]["spec"]["containers"][0]["args"] == ["run"]
    assert feed["template"]["spec"]["containers"][0]["args"] == ["feed"]
    assert feed["replicas"] == 1 and feed["strategy"]["type"] == "Recreate", "one feed writer per Redis"
    for spec in (processor, feed):
        assert spec["template"]["spec"]["containers"][0]["resources"]["requests"]
    budget = docs["PodDisruptionBudget/srguard-processor"]["spec"]
    assert budget["selector"]["matchLabels"] == processor["selector"]["matchLabels"]
    assert budget["maxUnavailable"] == 1
