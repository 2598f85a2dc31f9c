"""Prometheus config and rules: promtool checks, rule unit tests, and what every rule must carry."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.test_deploy_promql import (
    PROM_DIR,
    RULE_FILES,
    SCRAPE_SERIES,
    exported_names,
    load_rules,
    metric_names,
    recorded_names,
)

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus; .ci/run does)"
)
RULE_TESTS = sorted((PROM_DIR / "tests").glob("*.yml"))
RUNBOOK_URL = re.compile(r"^docs/runbook\.md#[a-z0-9]+(?:-[a-z0-9]+)*$")
ALERTS = [rule for rule in load_rules() if "alert" in rule]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROMTOOL), *args], cwd=PROM_DIR, capture_output=True, text=True, timeout=120
    )


def test_files_exist() -> None:
    assert {p.name for p in RULE_FILES} >= {"alerts.yml", "recording.yml"}
    assert RULE_TESTS, "no promtool rule tests in deploy/prometheus/tests/"


@needs_promtool
def test_promtool_check_rules() -> None:
    out = promtool("check", "rules", *(str(p.relative_to(PROM_DIR)) for p in RULE_FILES))
    assert out.returncode == 0, out.stdout + out.stderr


@needs_promtool
@pytest.mark.parametrize("test_file", RULE_TESTS, ids=lambda p: p.name)
def test_promtool_test_rules(test_file: Path) -> None:
    out = promtool("test", "rules", str(test_file.relative_to(PROM_DIR)))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


@needs_promtool
def test_promtool_check_config() -> None:
    out = promtool("check", "config", "prometheus.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 rule files found" in out.stdout + out.stderr


@needs_promtool
def test_promtool_check_k8s_config() -> None:
    out = promtool("check", "config", "prometheus-k8s.yml")
    if "kubernetes_sd_configs not found" in out.stdout + out.stderr:
        pytest.skip("this promtool build has no Kubernetes service discovery (Debian's)")
    assert out.returncode == 0, out.stdout + out.stderr


@needs_promtool
def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    # Guards the checks above against a promtool that accepts anything.
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(a[5m])\n"
    )
    out = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(bad)], capture_output=True, text=True
    )
    assert out.returncode != 0


def test_every_rule_file_has_a_unit_test() -> None:
    tested = set()
    for path in RULE_TESTS:
        tested.update(Path(f).name for f in yaml.safe_load(path.read_text())["rule_files"])
    assert tested == {p.name for p in RULE_FILES}


def test_every_alert_is_unit_tested() -> None:
    tested = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            tested.update(
                t["alertname"] for t in case.get("alert_rule_test", []) if t["exp_alerts"]
            )
    assert tested == {rule["alert"] for rule in ALERTS}


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: r["alert"])
def test_alert_has_runbook_severity_and_summary(rule: dict) -> None:
    assert rule["alert"].startswith("AbuseDetector")
    assert RUNBOOK_URL.match(rule["annotations"]["runbook_url"]), rule["annotations"]["runbook_url"]
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_alerts_cover_the_operational_failures() -> None:
    names = {rule["alert"] for rule in ALERTS}
    assert {
        "AbuseDetectorWorkerDown",
        "AbuseDetectorConsumerLagGrowing",
        "AbuseDetectorDLQRateHigh",
        "AbuseDetectorNoEvents",
        "AbuseDetectorCriticalFinding",
    } <= names


@pytest.mark.parametrize("rule", load_rules(), ids=lambda r: r.get("alert") or r["record"])
def test_rule_uses_only_known_series(rule: dict) -> None:
    known = exported_names() | recorded_names() | SCRAPE_SERIES
    unknown = metric_names(rule["expr"]) - known
    assert not unknown, f"{rule.get('alert') or rule['record']} selects unknown series {unknown}"


def test_recording_rule_names_follow_convention() -> None:
    for name in recorded_names():
        level, metric, ops = name.split(":")
        assert level and ops and metric.startswith("abuse_detector_"), name
        assert not metric.endswith("_total"), name


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: r["alert"])
def test_commands_in_annotations_exist(rule: dict) -> None:
    from app.cli.main import build_parser

    for command in re.findall(r"`abuse-detector ([^`]+)`", rule["annotations"]["description"]):
        args = build_parser().parse_args(command.split())
        assert callable(args.func), command


def heading_anchors(markdown: str) -> set[str]:
    """GitHub-style anchors of every heading in a markdown text."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"#{1,6}\s+(.+?)\s*#*$", line)
        if match:
            text = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def test_runbook_links_resolve() -> None:
    runbook = PROM_DIR.parents[1] / "docs" / "runbook.md"
    anchors = heading_anchors(runbook.read_text())
    for rule in ALERTS:
        anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in docs/runbook.md"


def test_heading_anchors() -> None:
    assert heading_anchors("# Run book\n### worker-down\n## Alerts (Prometheus)\n") == {
        "run-book",
        "worker-down",
        "alerts-prometheus",
    }
