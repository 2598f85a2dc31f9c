"""The metrics container: names, units, labels and the /metrics, /healthz, /ready server."""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from app import __version__
from app.metrics import (
    ACTIVITIES,
    AGE_BUCKETS,
    KNOWN_DETECTORS,
    SEVERITIES,
    SUPPRESSION_REASONS,
    Metrics,
    start_http_server,
)


@pytest.fixture
def reg() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(reg: CollectorRegistry) -> Metrics:
    return Metrics(reg)


def own_families(reg: CollectorRegistry) -> list:
    return [f for f in reg.collect() if f.name.startswith("abuse_detector_")]


def test_event_counters(metrics: Metrics, reg: CollectorRegistry) -> None:
    metrics.events_consumed.inc(5)
    metrics.events_processed.labels(result="ok").inc(4)
    metrics.events_processed.labels(result="invalid").inc()
    metrics.dlq.labels(reason="bad_json").inc()
    assert reg.get_sample_value("abuse_detector_events_consumed_total") == 5
    assert reg.get_sample_value("abuse_detector_events_processed_total", {"result": "ok"}) == 4
    assert reg.get_sample_value("abuse_detector_events_processed_total", {"result": "invalid"}) == 1
    assert reg.get_sample_value("abuse_detector_dlq_events_total", {"reason": "bad_json"}) == 1


def test_results_exist_at_zero_before_any_event(metrics: Metrics, reg: CollectorRegistry) -> None:
    # rate() over a series that appears only at the first error hides the first error.
    assert reg.get_sample_value("abuse_detector_events_processed_total", {"result": "invalid"}) == 0


def test_observe_batch(metrics: Metrics, reg: CollectorRegistry) -> None:
    metrics.observe_batch(0.02, 300, now=1_700_000_000.0)
    metrics.observe_batch(3.0, 1, now=1_700_000_005.0)
    assert reg.get_sample_value("abuse_detector_batch_duration_seconds_count") == 2
    assert reg.get_sample_value("abuse_detector_batch_duration_seconds_sum") == pytest.approx(3.02)
    assert (
        reg.get_sample_value("abuse_detector_batch_duration_seconds_bucket", {"le": "0.025"}) == 1
    )
    assert reg.get_sample_value("abuse_detector_batch_size_events_sum") == 301
    assert (
        reg.get_sample_value("abuse_detector_last_processed_timestamp_seconds") == 1_700_000_005.0
    )


def test_event_age_and_last_event_ts_only_moves_forward(
    metrics: Metrics, reg: CollectorRegistry
) -> None:
    metrics.observe_event(100.0, now=102.0)
    metrics.observe_event(90.0, now=103.0)  # late event: older, must not move the gauge back
    assert reg.get_sample_value("abuse_detector_last_event_timestamp_seconds") == 100.0
    assert reg.get_sample_value("abuse_detector_event_age_seconds_count") == 2
    assert reg.get_sample_value("abuse_detector_event_age_seconds_sum") == pytest.approx(15.0)
    metrics.observe_event(200.0, now=150.0)  # clock skew: event from the future counts as age 0
    assert reg.get_sample_value("abuse_detector_event_age_seconds_bucket", {"le": "0.1"}) == 1
    assert reg.get_sample_value("abuse_detector_last_event_timestamp_seconds") == 200.0


def test_a_batch_of_event_ages_exports_what_one_by_one_would() -> None:
    import random

    rng = random.Random(7)
    now = 1_700_000_000.0
    # Ages on and around every bucket bound, tiny, huge, and from the future.
    ages = [b for b in AGE_BUCKETS for _ in range(3)] + [rng.uniform(0, 7200) for _ in range(500)]
    ages += [b * 1.0000001 for b in AGE_BUCKETS] + [0.0, -5.0, 1e9]
    stamps = [now - a for a in ages]
    one, many = CollectorRegistry(), CollectorRegistry()
    by_one, by_batch = Metrics(registry=one), Metrics(registry=many)
    for ts in stamps:
        by_one.observe_event(ts, now)
    by_batch.observe_events(stamps[:300], now)
    by_batch.observe_events(stamps[300:], now)
    by_batch.observe_events([], now)

    def samples(reg: CollectorRegistry) -> dict[tuple[str, str], float]:
        return {
            (s.name, s.labels.get("le", "")): s.value
            for family in reg.collect()
            if family.name
            in ("abuse_detector_event_age_seconds", "abuse_detector_last_event_timestamp_seconds")
            for s in family.samples
            if not s.name.endswith("_created")
        }

    got, want = samples(many), samples(one)
    assert want[("abuse_detector_event_age_seconds_count", "")] == len(ages)
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value), key


def test_findings_scores_and_suppressions(metrics: Metrics, reg: CollectorRegistry) -> None:
    metrics.findings.labels(detector="hydra-cluster", severity="critical", activity="new").inc()
    metrics.record_finding("account-extraction", "high", "update", score=0.83)
    metrics.suppressed.labels(detector="hydra-cluster", reason="allowlist").inc(2)
    labels = {"detector": "account-extraction", "severity": "high", "activity": "update"}
    assert reg.get_sample_value("abuse_detector_findings_published_total", labels) == 1
    assert (
        reg.get_sample_value(
            "abuse_detector_findings_published_total",
            {"detector": "hydra-cluster", "severity": "critical", "activity": "new"},
        )
        == 1
    )
    assert (
        reg.get_sample_value(
            "abuse_detector_findings_suppressed_total",
            {"detector": "hydra-cluster", "reason": "allowlist"},
        )
        == 2
    )
    det = {"detector": "account-extraction"}
    assert reg.get_sample_value("abuse_detector_detection_score_bucket", {**det, "le": "0.8"}) == 0
    assert reg.get_sample_value("abuse_detector_detection_score_bucket", {**det, "le": "0.9"}) == 1


def test_known_label_values_start_at_zero(metrics: Metrics, reg: CollectorRegistry) -> None:
    new_critical = {"detector": "hydra-cluster", "severity": "critical", "activity": "new"}
    assert reg.get_sample_value("abuse_detector_findings_published_total", new_critical) == 0
    assert (
        reg.get_sample_value(
            "abuse_detector_findings_suppressed_total",
            {"detector": "account-extraction", "reason": "org"},
        )
        == 0
    )
    assert (
        reg.get_sample_value("abuse_detector_detection_score_count", {"detector": "hydra-cluster"})
        == 0
    )
    published = [
        s
        for fam in reg.collect()
        if fam.name == "abuse_detector_findings_published"
        for s in fam.samples
        if s.name.endswith("_total")
    ]
    assert len(published) == len(KNOWN_DETECTORS) * len(SEVERITIES) * len(ACTIVITIES)


def test_without_known_detectors_no_series_before_use() -> None:
    reg = CollectorRegistry()
    Metrics(reg, detectors=())
    labels = {"detector": "hydra-cluster", "severity": "critical", "activity": "new"}
    assert reg.get_sample_value("abuse_detector_findings_published_total", labels) is None


def test_known_label_values_match_the_findings_code() -> None:
    from app.core.account import DETECTOR
    from app.findings.ocsf import SEVERITIES as OCSF_SEVERITIES
    from app.findings.suppress import KINDS

    assert set(SEVERITIES) == {name.lower() for name in OCSF_SEVERITIES.values()}
    assert set(SUPPRESSION_REASONS) == set(KINDS)
    assert DETECTOR in KNOWN_DETECTORS


def test_state_sizes(metrics: Metrics, reg: CollectorRegistry) -> None:
    metrics.set_state_sizes(accounts=1200, groups=40, campaigns=3)
    metrics.set_state_sizes(accounts=1300, groups=41)
    assert reg.get_sample_value("abuse_detector_accounts_tracked") == 1300
    assert reg.get_sample_value("abuse_detector_groups_tracked") == 41
    assert reg.get_sample_value("abuse_detector_campaigns_open") == 3


def test_consumer_lag_drops_partitions_no_longer_assigned(
    metrics: Metrics, reg: CollectorRegistry
) -> None:
    metrics.set_consumer_lag({("api-events", 0): 10, ("api-events", 1): 5})
    assert (
        reg.get_sample_value(
            "abuse_detector_consumer_lag_messages", {"topic": "api-events", "partition": "1"}
        )
        == 5
    )
    assert reg.get_sample_value("abuse_detector_assigned_partitions") == 2
    # A stale high-water mark must never yield negative lag.
    metrics.set_consumer_lag({("api-events", 0): -3})
    assert (
        reg.get_sample_value(
            "abuse_detector_consumer_lag_messages", {"topic": "api-events", "partition": "1"}
        )
        is None
    )
    assert (
        reg.get_sample_value(
            "abuse_detector_consumer_lag_messages", {"topic": "api-events", "partition": "0"}
        )
        == 0
    )
    assert reg.get_sample_value("abuse_detector_assigned_partitions") == 1


def test_build_info(metrics: Metrics, reg: CollectorRegistry) -> None:
    assert reg.get_sample_value("abuse_detector_build_info", {"version": __version__}) == 1


def test_naming_conventions(metrics: Metrics, reg: CollectorRegistry) -> None:
    families = own_families(reg)
    assert len(families) >= 18
    for fam in families:
        for sample in fam.samples:
            if fam.type == "counter" and not sample.name.endswith("_created"):
                assert sample.name.endswith("_total"), sample.name
            # No per-account labels: cardinality must stay bounded.
            assert not {"account", "account_id", "subject", "org_id", "ip"} & set(sample.labels)
        assert "millis" not in fam.name and "_ms" not in fam.name


def test_default_registry_is_private_and_has_process_metrics() -> None:
    a, b = Metrics(), Metrics()  # a shared global registry would raise on the second
    assert a.registry is not b.registry
    names = {f.name for f in a.registry.collect()}
    assert "abuse_detector_events_consumed" in names
    assert "python_info" in names


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_http_server_serves_metrics_health_and_ready(
    metrics: Metrics, reg: CollectorRegistry
) -> None:
    state = {"ready": False}
    server = start_http_server(0, reg, ready=lambda: state["ready"], addr="127.0.0.1")
    try:
        base = f"http://127.0.0.1:{server.port}"
        metrics.events_consumed.inc(7)
        code, body = get(base + "/metrics")
        assert code == 200 and b"abuse_detector_events_consumed_total 7.0" in body
        assert get(base + "/healthz")[0] == 200
        assert get(base + "/ready")[0] == 503
        state["ready"] = True
        assert get(base + "/ready")[0] == 200
        assert get(base + "/nope")[0] == 404
    finally:
        server.stop()


def test_ready_probe_that_raises_is_not_ready(reg: CollectorRegistry) -> None:
    def broken() -> bool:
        raise RuntimeError("consumer gone")

    server = start_http_server(0, reg, ready=broken, addr="127.0.0.1")
    try:
        assert get(f"http://127.0.0.1:{server.port}/ready")[0] == 503
    finally:
        server.stop()


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)"
)
def test_exposition_passes_promtool_check_metrics(metrics: Metrics, reg: CollectorRegistry) -> None:
    metrics.record_finding("hydra-cluster", "critical", "new", score=0.97)
    metrics.dlq.labels(reason="missing_field").inc()
    metrics.set_consumer_lag({("api-events", 0): 3})
    metrics.observe_batch(0.01, 10)
    metrics.observe_event(1.0)
    out = subprocess.run(
        ["promtool", "check", "metrics"],
        input=generate_latest(reg),
        capture_output=True,
        timeout=30,
    )
    assert out.returncode == 0, (out.stdout + out.stderr).decode()
    assert not (out.stdout + out.stderr).strip(), (out.stdout + out.stderr).decode()


def test_every_metric_is_documented(metrics: Metrics, reg: CollectorRegistry) -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for fam in own_families(reg):
        exposed = fam.name + {"counter": "_total", "info": "_info"}.get(fam.type, "")
        assert f"`{exposed}`" in doc, f"{exposed} is missing from docs/operations.md"
