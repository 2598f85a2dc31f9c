"""Shared helpers for the deploy tests: PromQL metric names, rule files, dashboards; and their tests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from app.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM_DIR = DEPLOY / "prometheus"
RULE_FILES = sorted((PROM_DIR / "rules").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
# Series Prometheus makes itself for every target.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)")
_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count", ""),
    "info": ("_info",),
}


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords and labels left out)."""
    text = _STRINGS.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries
    text = _GROUPING.sub("", text)
    text = re.sub(r"\$\{?\w+\}?", "", text)  # Grafana variables
    names = set()
    for match in _IDENT.finditer(text):
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if match.group(1).lower() not in _KEYWORDS | {"inf", "nan"}:
            names.add(match.group(1))
    return names


def exported_names() -> set[str]:
    """Every series name the worker's default Metrics container exposes."""
    names = set()
    for fam in Metrics().registry.collect():
        names.update(fam.name + suffix for suffix in _SUFFIXES.get(fam.type, ("",)))
    return names


def load_rules() -> list[dict[str, Any]]:
    """Every rule of every rule file."""
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(group["rules"])
    return rules


def recorded_names() -> set[str]:
    """Names of the series the recording rules create."""
    return {rule["record"] for rule in load_rules() if "record" in rule}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including panels nested in collapsed rows."""
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) for every panel target of every dashboard."""
    out = []
    for path in DASHBOARDS:
        for panel in panels(json.loads(path.read_text())):
            for target in panel.get("targets", []):
                out.append((path.name, panel["title"], target["expr"]))
    return out


def render(expr: str, rate_interval: str = "1m", time_range: str = "1h") -> str:
    """Replace the Grafana variables the dashboards use so Prometheus can run the query."""
    for var, value in (
        ("$__rate_interval", rate_interval),
        ("$__interval", rate_interval),
        ("$__range", time_range),
        ("$instance", ".*"),
    ):
        expr = expr.replace(var, value)
    assert "$" not in expr, f"unhandled variable in {expr}"
    return expr


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", {"up"}),
        (
            'sum by (le) (rate(a_bucket{job="x", instance=~"$instance"}[$__rate_interval]))',
            {"a_bucket"},
        ),
        ("histogram_quantile(0.99, sum by (job, le) (rate(b_bucket[5m])))", {"b_bucket"}),
        ("time() - max by (job) (c_seconds)", {"c_seconds"}),
        ("a_total / on (job) group_left (reason) b_total > bool 1e-3", {"a_total", "b_total"}),
        ('x{reason="and or"} unless y offset 5m', {"x", "y"}),
        ("deriv(job_topic:lag:sum[10m]) > 0 and job_topic:lag:sum > 10000", {"job_topic:lag:sum"}),
        ("sum(rate(z[5m])) by (job)", {"z"}),
    ],
)
def test_metric_names(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


def test_exported_names_cover_types() -> None:
    names = exported_names()
    assert "abuse_detector_events_consumed_total" in names
    assert "abuse_detector_batch_duration_seconds_bucket" in names
    assert "abuse_detector_build_info" in names
    assert "abuse_detector_accounts_tracked" in names
    assert "abuse_detector_events_consumed" not in names
    assert "process_resident_memory_bytes" in names


def test_exported_names_match_a_registry_sample() -> None:
    # The suffix table must agree with what prometheus_client really writes.
    reg = CollectorRegistry()
    metrics = Metrics(reg)
    metrics.record_finding("d", "high", "new", score=0.5)
    metrics.dlq.labels(reason="r").inc()
    sampled = {
        s.name for fam in reg.collect() for s in fam.samples if not s.name.endswith("_created")
    }
    assert sampled <= exported_names()


def test_render_replaces_every_variable() -> None:
    expr = 'rate(a{instance=~"$instance"}[$__rate_interval]) + increase(b[$__range])'
    assert render(expr, "30s", "5m") == 'rate(a{instance=~".*"}[30s]) + increase(b[5m])'
    with pytest.raises(AssertionError):
        render("rate(a[$unknown])")
