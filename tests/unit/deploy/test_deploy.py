"""deploy/kubernetes cannot be applied here: check what it says against the code."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from processor.config import KAFKA_ENV_PREFIX, Settings, load_settings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes"
SERVED_PATHS = {"/metrics", "/healthz", "/readyz"}  # processor/observability/http.py
KUBERNETES_VERSION = "1.31.0"  # the oldest Kubernetes still supported upstream when the kit was written


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
    names = list(config)
    for principal in ("run", "feed", "admin"):  # one Secret per principal, each only settings
        names += list(docs[f"Secret/srguard-{principal}-credentials"]["stringData"])
    for deployment in ("Deployment/srguard-processor", "Deployment/srguard-feed"):
        for container in docs[deployment]["spec"]["template"]["spec"]["containers"]:
            names += [e["name"] for e in container.get("env", [])]
    unknown = [n for n in names if not _is_setting(n)]
    assert not unknown, f"not srguard settings: {unknown}"
    values = {k.removeprefix("SRGUARD_").lower(): v for k, v in config.items() if not k.startswith(KAFKA_ENV_PREFIX)}
    load_settings(**values)  # raises on a value the model refuses


@pytest.mark.parametrize("deployment", ["Deployment/srguard-processor", "Deployment/srguard-feed"])
def test_probes_point_at_served_paths_on_the_metrics_port(docs, deployment):
    port = int(docs["ConfigMap/srguard-config"]["data"]["SRGUARD_METRICS_PORT"])
    pod = docs[deployment]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in SERVED_PATHS and ports[get["port"]] == port, probe
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    service = docs["Service/srguard-metrics"]["spec"]
    assert service["ports"][0]["targetPort"] == "metrics"
    assert service["selector"].items() <= pod["metadata"]["labels"].items(), "the metrics Service selects the pod"


def test_each_component_runs_as_its_own_principal_and_pods_talk_only_to_what_they_need(docs):
    """The processor and the feed each have their own Kafka and Redis user (least privilege: README
    "Security"), an ACL job grants theirs, and a NetworkPolicy fences the pods."""
    used = {}
    for component in ("processor", "feed"):
        (container,) = docs[f"Deployment/srguard-{component}"]["spec"]["template"]["spec"]["containers"]
        used[component] = {s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s}
    assert used == {"processor": {"srguard-run-credentials"}, "feed": {"srguard-feed-credentials"}}
    (job,) = docs["Job/srguard-acls"]["spec"]["template"]["spec"]["containers"]
    script = " ".join(job["args"])
    assert "--principal User:srguard-run --for run --no-embedded-feed --apply" in script
    assert "--principal User:srguard-feed --for feed --apply" in script
    policy = docs["NetworkPolicy/srguard"]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == [9108]


def test_the_feed_is_the_only_writer_of_the_reference_data(docs):
    (processor,) = docs["Deployment/srguard-processor"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in processor["env"]}
    config = docs["ConfigMap/srguard-config"]["data"]
    assert env["SRGUARD_EMBEDDED_FEED"] == "false" and "SRGUARD_EMBEDDED_FEED" not in config
    assert load_settings(embedded_feed=env["SRGUARD_EMBEDDED_FEED"]).embedded_feed is False


def _mounted(docs) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret a pod mounts or reads its environment from."""
    found = set()
    for workload in ("Deployment/srguard-processor", "Deployment/srguard-feed", "Job/srguard-acls"):
        spec = docs[workload]["spec"]["template"]["spec"]
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                found.add(("ConfigMap", volume["configMap"]["name"]))
            if "secret" in volume:
                found.add(("Secret", volume["secret"]["secretName"]))
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    found.add(("ConfigMap", source["configMapRef"]["name"]))
                if "secretRef" in source:
                    found.add(("Secret", source["secretRef"]["name"]))
    return found


def test_every_object_a_pod_mounts_is_made_by_the_kit(docs):
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    made = {tuple(key.split("/", 1)) for key in docs}
    for kind, generators in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for generator in kustomization.get(generators, []):
            made.add((kind, generator["name"]))
            for entry in generator["files"]:
                assert (DEPLOY / entry.partition("=")[2]).is_file(), entry
    assert _mounted(docs) <= made, f"mounted but made by nothing: {_mounted(docs) - made}"


def test_the_kit_renders_with_kustomize_and_every_object_validates_strictly():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed here")
    rendered = subprocess.run([kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, check=True).stdout
    objects = [doc for doc in yaml.safe_load_all(rendered) if doc]
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    docs = {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}
    assert _mounted(docs) <= names  # generated names carry a hash: the references must follow it
    assert all(o["metadata"].get("namespace") == "srguard" for o in objects if o["kind"] != "Namespace")


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
