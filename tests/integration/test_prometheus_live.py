"""A real Prometheus scrapes a live worker fed by the simulator: every rule and panel query works.

Needs Debian's ``prometheus`` package (``.ci/run`` installs it) and the embedded broker.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.broker import EmbeddedBroker, _die_with_parent, free_port
from app.stream.process import WorkerProcess
from tests.kafka_helpers import produce
from tests.unit.test_deploy_promql import RULE_FILES, load_rules, panel_queries, render

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
RATE_INTERVAL = "10s"  # Grafana's $__rate_interval for a 1s scrape interval
# One message per DLQ reason, so the error panels have real series.
MALFORMED = {
    "invalid_json": b"not json",
    "not_object": b"[1, 2]",
    "missing_field": b'{"event_id": "x", "ts": 1769940000}',
    "empty": b"",
}


@dataclass
class Stack:
    worker: WorkerProcess
    prometheus_url: str
    log: Path


def prometheus_config(target: str) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in RULE_FILES],
        "scrape_configs": [
            {"job_name": "abuse-detector", "static_configs": [{"targets": [target]}]}
        ],
    }


def api(base: str, path: str, **params: str) -> dict[str, Any]:
    url = f"{base}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 400 on a query that does not parse
        return json.loads(exc.read())


def start_simulator(bootstrap: str, topic: str, log: Path) -> subprocess.Popen[bytes]:
    argv = [
        "simulate",
        "--scenario",
        "demo",
        "--kafka",
        bootstrap,
        "--topic",
        topic,
        "--speed",
        "60",
    ]
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli.main", *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )


def wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Block until Prometheus answers /-/ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"prometheus exited: {log.read_text(errors='replace')[-2000:]}"
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{base}/-/ready", timeout=2) as resp,
        ):
            if resp.status == 200:
                return
        time.sleep(0.3)
    raise AssertionError(f"prometheus not ready after {timeout:.0f}s")


@contextlib.contextmanager
def running(proc: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.fixture(scope="module")
def stack(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if PROMETHEUS is None:
        pytest.skip("prometheus not installed (apt-get install prometheus; .ci/run does)")
    tmp = tmp_path_factory.mktemp("prom-live")
    unique = tmp.name.replace("_", "-")[-12:]
    topics = {
        "ABUSE_EVENTS_TOPIC": f"events-{unique}",
        "ABUSE_DLQ_TOPIC": f"dlq-{unique}",
        "ABUSE_ALERTS_TOPIC": f"alerts-{unique}",
        "ABUSE_FEEDBACK_TOPIC": f"feedback-{unique}",
    }
    env = {**topics, "ABUSE_PARTITIONS": "2"}
    with WorkerProcess(
        broker.url, f"prom-{unique}", env=env, log_path=tmp / "worker.log"
    ) as worker:
        worker.wait_ready(90)
        config = tmp / "prometheus.yml"
        config.write_text(yaml.safe_dump(prometheus_config(f"127.0.0.1:{worker.metrics_port}")))
        port = free_port()
        prom_log = tmp / "prometheus.log"
        with open(prom_log, "ab") as out:
            prom = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        sim = start_simulator(broker.bootstrap, topics["ABUSE_EVENTS_TOPIC"], tmp / "simulator.log")
        with running(prom), running(sim):
            wait_ready(f"http://127.0.0.1:{port}", prom, prom_log)
            produce(
                broker.bootstrap,
                topics["ABUSE_EVENTS_TOPIC"],
                [(b"bad", m) for m in MALFORMED.values()],
            )
            yield Stack(worker, f"http://127.0.0.1:{port}", tmp)


def panel_results(base: str) -> dict[tuple[str, str, str], list[Any] | str]:
    """Instant query of every panel target: its result list, or the error string."""
    out: dict[tuple[str, str, str], list[Any] | str] = {}
    for key in panel_queries():
        answer = api(base, "query", query=render(key[2], RATE_INTERVAL, "5m"))
        out[key] = answer["data"]["result"] if answer["status"] == "success" else answer["error"]
    return out


def logs(stack: Stack) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
        for p in sorted(stack.log.glob("*.log"))
    )


def value(base: str, query: str) -> float:
    """The single value of an instant query, 0 when it returns nothing."""
    result = api(base, "query", query=query)["data"]["result"]
    return sum(float(r["value"][1]) for r in result)


def test_the_simulated_traffic_shows_up(stack: Stack) -> None:
    base = stack.prometheus_url
    wanted = {
        "events": "sum(abuse_detector_events_processed_total{result='ok'})",
        "accounts": "sum(abuse_detector_accounts_tracked)",
        "findings": "sum(abuse_detector_findings_published_total)",
        "scores": "sum(abuse_detector_detection_score_count)",
    }
    deadline = time.monotonic() + 150
    seen = {name: value(base, q) for name, q in wanted.items()}
    while not all(seen.values()) and time.monotonic() < deadline:
        time.sleep(3)
        seen = {name: value(base, q) for name, q in wanted.items()}
    assert all(seen.values()), f"{seen}\n{logs(stack)}"
    reasons = api(base, "query", query="abuse_detector_dlq_events_total > 0")["data"]["result"]
    assert {r["metric"]["reason"] for r in reasons} >= set(MALFORMED)


def test_every_panel_query_returns_data(stack: Stack) -> None:
    deadline = time.monotonic() + 150
    while True:
        results = panel_results(stack.prometheus_url)
        errors = {k: v for k, v in results.items() if isinstance(v, str)}
        assert not errors, f"queries Prometheus rejected: {errors}"
        empty = [k for k, v in results.items() if not v]
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert not empty, "panels without data:\n" + "\n".join(map(str, empty)) + "\n" + logs(stack)


def rule_health(base: str) -> dict[str, tuple[str, str]]:
    """Health and last error of every rule Prometheus loaded."""
    groups = api(base, "rules")["data"]["groups"]
    return {r["name"]: (r["health"], r.get("lastError", "")) for g in groups for r in g["rules"]}


def test_every_rule_expression_parses_and_evaluates(stack: Stack) -> None:
    for rule in load_rules():
        answer = api(stack.prometheus_url, "query", query=rule["expr"])
        assert answer["status"] == "success", (rule.get("alert") or rule["record"], answer)
    deadline = time.monotonic() + 20
    health = rule_health(stack.prometheus_url)
    while any(h == "unknown" for h, _ in health.values()) and time.monotonic() < deadline:
        time.sleep(1)
        health = rule_health(stack.prometheus_url)
    assert len(health) == len(load_rules())
    assert all(h == "ok" for h, _ in health.values()), health


def test_prometheus_scrapes_the_worker(stack: Stack) -> None:
    targets = api(stack.prometheus_url, "targets")["data"]["activeTargets"]
    assert [t["health"] for t in targets] == ["up"], targets
    up = api(stack.prometheus_url, "query", query='up{job="abuse-detector"}')["data"]["result"]
    assert up and up[0]["value"][1] == "1"


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")
def test_live_metrics_pass_promtool_check_metrics(stack: Stack) -> None:
    status, body = stack.worker.get("/metrics")
    assert status == 200 and "abuse_detector_events_consumed_total" in body
    out = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=body.encode(), capture_output=True, timeout=30
    )
    assert out.returncode == 0 and not (out.stdout + out.stderr).strip(), out.stdout + out.stderr
