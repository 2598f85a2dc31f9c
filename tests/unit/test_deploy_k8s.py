"""Kubernetes manifests: valid YAML, commented, and consistent with each other and the settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.settings import ENV_PREFIX, Settings, load_settings
from tests.unit.test_deploy_promql import DEPLOY, ROOT

K8S = DEPLOY / "k8s"
MANIFESTS = sorted(K8S.glob("*.yaml"))


def docs() -> list[dict[str, Any]]:
    out = []
    for path in MANIFESTS:
        out.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return out


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d for d in docs() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def config() -> dict[str, str]:
    return one("ConfigMap", "abuse-detector")["data"]


def pod_spec() -> dict[str, Any]:
    return one("StatefulSet")["spec"]["template"]["spec"]


def worker_container() -> dict[str, Any]:
    (container,) = pod_spec()["containers"]
    return container


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_parses_and_is_commented(path: Path) -> None:
    text = path.read_text()
    assert text.lstrip().startswith("#"), (
        f"{path.name} should open with a comment saying what it is"
    )
    for doc in yaml.safe_load_all(text):
        assert doc["apiVersion"] and doc["kind"]
        if doc["kind"] != "Kustomization":
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
            assert doc["kind"] == "Namespace" or doc["metadata"]["namespace"] == "abuse-detector"


def test_kustomization_lists_every_manifest() -> None:
    listed = set(one("Kustomization")["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"kustomization.yaml"}


def test_the_parts_are_there() -> None:
    kinds = {d["kind"] for d in docs()}
    assert {"StatefulSet", "Service", "ScaledObject", "ConfigMap"} <= kinds


def test_configmap_keys_are_valid_settings() -> None:
    data = config()
    fields = {k.removeprefix(ENV_PREFIX).lower(): v for k, v in data.items()}
    assert all(k.startswith(ENV_PREFIX) for k in data)
    assert set(fields) <= set(Settings.model_fields), set(fields) - set(Settings.model_fields)
    settings = load_settings(**fields)
    assert len(settings.bootstrap_servers) == 2


def test_statefulset_keeps_state_on_a_volume() -> None:
    sts = one("StatefulSet")
    assert (
        sts["spec"]["serviceName"] == one("Service", "abuse-detector-headless")["metadata"]["name"]
    )
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in worker_container()["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == config()["ABUSE_DATA_DIR"]
    # The volume is worth keeping only for a store on disk: memory:// reads every changelog.
    assert config()["ABUSE_STORE_URL"] == "rocksdb://"
    assert (
        sts["spec"]["selector"]["matchLabels"].items()
        <= sts["spec"]["template"]["metadata"]["labels"].items()
    )


def test_pod_runs_as_the_image_user() -> None:
    uid = re.search(r"--uid (\d+)", (ROOT / "Dockerfile").read_text()).group(1)
    security = pod_spec()["securityContext"]
    assert security["runAsNonRoot"] is True and str(security["runAsUser"]) == uid
    assert worker_container()["securityContext"]["readOnlyRootFilesystem"] is True
    assert worker_container()["args"] == ["worker"]


def test_ports_probes_and_scrape_annotations_agree() -> None:
    port = int(config()["ABUSE_METRICS_PORT"])
    container = worker_container()
    (named,) = container["ports"]
    assert named["containerPort"] == port
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == named["name"]
    notes = one("StatefulSet")["spec"]["template"]["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true" and int(notes["prometheus.io/port"]) == port
    pod_labels = one("StatefulSet")["spec"]["template"]["metadata"]["labels"]
    for service in (d for d in docs() if d["kind"] == "Service"):
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert service["spec"]["ports"][0]["targetPort"] in (named["name"], port)


def test_scaled_object_scales_on_the_worker_group_lag() -> None:
    scaled = one("ScaledObject")
    target = scaled["spec"]["scaleTargetRef"]
    assert (
        target["kind"] == "StatefulSet" and target["name"] == one("StatefulSet")["metadata"]["name"]
    )
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    data = config()
    assert meta["consumerGroup"] == data["ABUSE_APP_ID"]
    assert meta["topic"] == data["ABUSE_EVENTS_TOPIC"]
    servers = load_settings(broker_url=data["ABUSE_BROKER_URL"]).bootstrap_servers
    assert meta["bootstrapServers"].split(",") == servers
    assert int(meta["lagThreshold"]) > 0
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    assert scaled["spec"]["maxReplicaCount"] <= int(data["ABUSE_PARTITIONS"])


def test_secret_is_referenced_not_inlined() -> None:
    env = {e["name"]: e for e in worker_container().get("env", [])}
    assert "secretKeyRef" in env["ABUSE_SASL_PASSWORD"]["valueFrom"]
    assert "ABUSE_SASL_PASSWORD" not in config()


def test_prometheus_k8s_config_finds_these_pods() -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus-k8s.yml").read_text())
    (job,) = [j for j in prom["scrape_configs"] if j["job_name"] == "abuse-detector"]
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["namespaces"]["names"] == [one("Namespace")["metadata"]["name"]]
    key, _, val = sd["selectors"][0]["label"].partition("=")
    assert one("StatefulSet")["spec"]["template"]["metadata"]["labels"][key] == val
    keep = [r for r in job["relabel_configs"] if r.get("action") == "keep"]
    assert keep[0]["source_labels"] == ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    address = [r for r in job["relabel_configs"] if r.get("target_label") == "__address__"][0]
    # The address rewrite must turn "10.0.0.7:1234" plus the annotated port into 10.0.0.7:9464.
    joined = "10.0.0.7:1234;" + config()["ABUSE_METRICS_PORT"]
    rewritten = re.sub(
        f"^(?:{address['regex']})$", address["replacement"].replace("$", "\\"), joined
    )
    assert rewritten == "10.0.0.7:9464"
