"""docker-compose.yml: valid per the Compose spec, and every image, port, volume and variable is real."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from app.cli.main import build_parser
from app.settings import ENV_PREFIX, Settings, load_settings
from tests.unit.test_deploy_promql import DEPLOY, ROOT

COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"  # vendored from check-jsonschema
KAFKA_PORT = 9092
PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000


def load() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def spec_errors(doc: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(json.loads(SCHEMA.read_text()))
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def services() -> dict[str, dict[str, Any]]:
    return load()["services"]


def env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (services()[service].get("environment") or {}).items()}


def mounts_of(service: str) -> dict[str, str]:
    return dict(v.split(":")[:2] for v in services()[service].get("volumes", []))


def test_compose_validates_against_the_spec() -> None:
    assert spec_errors(load()) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d["services"]["worker"].update(restart=5),
        lambda d: d["services"]["worker"].update(helthcheck={}),
        lambda d: d["services"]["kafka"]["healthcheck"].update(interval=["10s"]),
        lambda d: d.update(servces={}),
    ],
)
def test_spec_validation_catches_mistakes(breakage: Any) -> None:
    doc = load()
    breakage(doc)
    assert spec_errors(doc)


def test_docker_compose_config_when_available() -> None:
    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True) if docker else None
    if probe is None or probe.returncode != 0:
        pytest.skip("no docker CLI with the compose plugin here; validated against the spec above")
    out = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


def test_abuse_variables_are_settings_fields_with_valid_values() -> None:
    seen = 0
    for name in services():
        variables = {k: v for k, v in env(name).items() if k.startswith(ENV_PREFIX)}
        fields = {k.removeprefix(ENV_PREFIX).lower(): v for k, v in variables.items()}
        unknown = set(fields) - set(Settings.model_fields)
        assert not unknown, f"{name}: {unknown} are not Settings fields"
        if fields:
            load_settings(**fields)  # raises SettingsError on a bad value
            seen += 1
    assert seen >= 1


def test_kafka_runs_kraft_with_a_healthcheck() -> None:
    kafka = env("kafka")
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"] and "broker" in kafka["KAFKA_PROCESS_ROLES"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", kafka["CLUSTER_ID"]), (
        "CLUSTER_ID must be a base64 UUID"
    )
    assert f":{KAFKA_PORT}" in kafka["KAFKA_LISTENERS"]
    assert f"kafka:{KAFKA_PORT}" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert services()["kafka"]["image"].startswith("apache/kafka:")
    assert "kafka-broker-api-versions" in " ".join(services()["kafka"]["healthcheck"]["test"])


def test_images_are_pinned_and_local_images_are_built() -> None:
    built = {s["image"] for s in services().values() if "build" in s}
    for name, service in services().items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: pin {image}"
        if image in built and "build" not in service:
            assert service.get("pull_policy") == "never", f"{name}: {image} is only built locally"


def test_build_contexts_exist() -> None:
    for service in services().values():
        if "build" in service:
            context = ROOT / service["build"]["context"]
            assert (context / service["build"].get("dockerfile", "Dockerfile")).is_file()


def test_volumes_exist() -> None:
    doc = load()
    named = set(doc.get("volumes") or {})
    used = set()
    for name, service in doc["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in named, f"{name}: volume {source} not declared"
                used.add(source)
    assert used == named, f"declared but unused volumes: {named - used}"


def test_ports_match_what_the_services_listen_on() -> None:
    svc = services()
    worker_port = int(env("worker")["ABUSE_METRICS_PORT"])
    assert [int(p) for p in svc["worker"]["expose"]] == [worker_port]
    assert str(worker_port) in " ".join(svc["worker"]["healthcheck"]["test"])
    listeners = env("kafka")["KAFKA_LISTENERS"]
    for service, expected in (("prometheus", PROMETHEUS_PORT), ("grafana", GRAFANA_PORT)):
        assert [p.split(":")[-1] for p in svc[service]["ports"]] == [str(expected)]
    for port in svc["kafka"]["ports"]:
        assert f":{port.split(':')[-1]}" in listeners


def test_prometheus_scrapes_the_workers_and_grafana_reads_prometheus() -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in prom["scrape_configs"] if j["job_name"] == "abuse-detector"]
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["port"] == int(env("worker")["ABUSE_METRICS_PORT"])
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert ds["datasources"][0]["url"] == f"http://prometheus:{PROMETHEUS_PORT}"
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/abuse-detector.yml").read_text()
    )
    mounts = mounts_of("grafana")
    assert mounts["./deploy/grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services()["prometheus"]["command"]
    assert mounts_of("prometheus")["./deploy/prometheus"] == "/etc/prometheus"


def test_topic_init_creates_the_settings_topics() -> None:
    script = services()["topic-init"]["command"][0]
    topics = set(re.search(r"for topic in ([^;]+);", script).group(1).split())
    worker = load_settings(
        **{k.removeprefix(ENV_PREFIX).lower(): v for k, v in env("worker").items()}
    )
    assert topics == {
        worker.events_topic,
        worker.dlq_topic,
        worker.alerts_topic,
        worker.feedback_topic,
    }
    assert f"--partitions {worker.partitions}" in script
    assert services()["topic-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_two_worker_replicas_wait_for_topics() -> None:
    worker = services()["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert worker["depends_on"]["topic-init"]["condition"] == "service_completed_successfully"


def test_dependencies_name_real_services() -> None:
    svc = services()
    for name, service in svc.items():
        deps = service.get("depends_on", [])
        assert set(deps) <= set(svc), f"{name} depends on {set(deps) - set(svc)}"


def registered_commands() -> set[str]:
    parser = build_parser()
    actions = [a for a in parser._actions if a.dest == "command"]
    return set(actions[0].choices) if actions else set()


def cli_argv(service: dict[str, Any]) -> list[str]:
    """The abuse-detector arguments a service runs, also through a ``sh -c`` entrypoint."""
    command = service["command"]
    if service.get("entrypoint") == ["/bin/sh", "-c"]:
        words = shlex.split(command[0].replace("$$(date +%s)", "1767225600"))
        return words[words.index("abuse-detector") + 1 :]
    return shlex.split(command) if isinstance(command, str) else list(command)


@pytest.mark.parametrize("service", ["worker", "simulator"])
def test_commands_parse_with_the_cli(service: str) -> None:
    argv = cli_argv(services()[service])
    assert argv[0] in registered_commands()
    args = build_parser().parse_args(argv)
    assert callable(args.func)
    if service == "simulator":
        assert (args.scenario, args.kafka, args.topic) == ("demo", "kafka:9092", "api-events")
        assert args.speed == 60 and args.start == 1767225600


def test_no_secrets_in_plain_text() -> None:
    text = COMPOSE.read_text()
    assert "GF_SECURITY_ADMIN_PASSWORD: ${GRAFANA_ADMIN_PASSWORD" in text
    assert not re.search(r"(?i)(sasl_password|secret|token)\s*:\s*\S", text)


def test_schema_is_the_compose_spec() -> None:
    schema = json.loads(SCHEMA.read_text())
    assert schema["title"] == "Compose Specification"
    assert (Path(SCHEMA).parent / "LICENSE.compose-spec").is_file()
