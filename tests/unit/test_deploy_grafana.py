"""Grafana provisioning and dashboards: stable uids, templated datasource, known series only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.unit.test_deploy_promql import (
    DASHBOARDS,
    DEPLOY,
    SCRAPE_SERIES,
    exported_names,
    metric_names,
    panel_queries,
    panels,
    recorded_names,
)

GRAFANA = DEPLOY / "grafana"
EXPECTED_UIDS = {
    "pipeline.json": "abuse-detector-pipeline",
    "detection.json": "abuse-detector-detection",
}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_dashboards_have_stable_uids() -> None:
    assert {p.name: load(p)["uid"] for p in DASHBOARDS} == EXPECTED_UIDS


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_datasource_is_templated(path: Path) -> None:
    dash = load(path)
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in panels(dash):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panel_ids_unique_and_layout_fits(path: Path) -> None:
    all_panels = panels(load(path))
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids))
    for panel in all_panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        assert panel["type"] == "row" or panel["targets"], panel["title"]


def test_every_panel_uses_known_series() -> None:
    known = exported_names() | recorded_names() | SCRAPE_SERIES
    queries = panel_queries()
    assert len(queries) >= 20
    for name, title, expr in queries:
        names = metric_names(expr)
        assert names, f"{name} / {title}: no metric in {expr}"
        assert not names - known, f"{name} / {title}: unknown series {names - known}"


def test_dashboards_cover_the_issue() -> None:
    used = {n for _, _, expr in panel_queries() for n in metric_names(expr)}
    for wanted in (
        "abuse_detector_events_consumed_total",
        "abuse_detector_dlq_events_total",
        "abuse_detector_batch_duration_seconds_bucket",
        "abuse_detector_consumer_lag_messages",
        "process_cpu_seconds_total",
        "abuse_detector_findings_published_total",
        "abuse_detector_campaigns_open",
        "abuse_detector_accounts_tracked",
        "abuse_detector_detection_score_bucket",
    ):
        assert wanted in used, wanted


def test_provisioning() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus" and source["uid"] and source["url"].startswith("http://")
    prov = yaml.safe_load((GRAFANA / "provisioning/dashboards/abuse-detector.yml").read_text())
    (provider,) = prov["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/var/lib/grafana/dashboards")
