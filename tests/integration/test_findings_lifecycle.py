"""Findings on a live worker: one finding then updates, stable uids across a kill -9,
false-positive verdicts that stick, and ``alerts tail`` showing findings as they come."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import orjson
import pytest

from app.findings.ocsf import finding_uid
from app.stream.process import WorkerProcess
from tests.integration.test_fault_tolerance import scraper
from tests.kafka_helpers import produce, read_topic, wait_for, worker_env

pytestmark = pytest.mark.integration
T0 = 1_769_940_000


def loud(account: str, i: int, t0: float) -> bytes:
    """A scraper-shaped request two seconds after the last, from an account an hour old."""
    event = {**scraper(account, i, t0 + 2.0 * i), "model": "frontier-2"}
    return orjson.dumps({**event, "account_created_ts": t0 - 3600})


def quiet(i: int, ts: float) -> bytes:
    """An ordinary chat request that only moves event time forward."""
    return orjson.dumps(
        {
            "event_id": f"q-{i}-{ts}",
            "ts": ts,
            "account_id": f"chat-{i % 5}",
            "model": "frontier-1",
            "prompt_tokens": 300,
            "completion_tokens": 200,
            "account_created_ts": T0 - 9e6,
        }
    )


def findings_for(bootstrap: str, topic: str, account: str) -> list[dict]:
    out = []
    for msg in read_topic(bootstrap, topic, idle=1.5):
        finding = orjson.loads(msg.value)
        if any(r["uid"] == account for r in finding["resources"]):
            out.append(finding)
    return out


@pytest.fixture
def env(unique):
    return worker_env(unique)


def cli(*args: str, env: dict[str, str], **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", *args], env={**os.environ, **env}, **kwargs
    )


def test_lifecycle_restart_feedback_and_tail(broker, env, unique, tmp_path):
    bootstrap, events, alerts = (
        broker.bootstrap,
        env["ABUSE_EVENTS_TOPIC"],
        env["ABUSE_ALERTS_TOPIC"],
    )
    app_id = f"test-life-{unique}"
    cli_env = {**env, "ABUSE_BROKER_URL": broker.url}

    # A false-positive verdict given before the account ever shows up.
    assert (
        cli(
            "feedback", "fp-acct", "--verdict", "false_positive", "--note", "load test", env=cli_env
        ).wait(60)
        == 0
    )

    worker = WorkerProcess(broker.url, app_id, env=env, log_path=tmp_path / "w1.log").start()
    try:
        worker.wait_ready(90)
        tail = cli(
            "alerts",
            "tail",
            "--json",
            "--max",
            "1",
            "--from-beginning",
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        produce(bootstrap, events, [(b"loud-1", loud("loud-1", i, T0)) for i in range(600)])
        produce(bootstrap, events, [(b"fp-acct", loud("fp-acct", i, T0)) for i in range(600)])
        out, _ = tail.communicate(timeout=90)
        shown = orjson.loads(out.splitlines()[0])
        assert shown["class_uid"] == 2004 and shown["resources"]

        uid = finding_uid("account-extraction", "loud-1")
        assert wait_for(lambda: findings_for(bootstrap, alerts, "loud-1"), 60)
        first = findings_for(bootstrap, alerts, "loud-1")
        assert [f["activity_id"] for f in first].count(1) == 1
        assert len(first) <= 1 + 5
        assert {f["finding_info"]["uid"] for f in first} == {uid}
        assert findings_for(bootstrap, alerts, "fp-acct") == []

        # Quiet for longer than the close period: the finding closes.
        produce(bootstrap, events, [(b"q", quiet(i, T0 + 6000 + i)) for i in range(50)])
        assert wait_for(
            lambda: any(f["activity_id"] == 3 for f in findings_for(bootstrap, alerts, "loud-1")),
            60,
        )
        time.sleep(2)  # one more checkpoint
        worker.kill()  # kill -9 mid-stream

        worker = WorkerProcess(broker.url, app_id, env=env, log_path=tmp_path / "w2.log").start()
        worker.wait_ready(90)
        produce(bootstrap, events, [(b"loud-1", loud("loud-1", i, T0 + 9000)) for i in range(600)])
        produce(
            bootstrap, events, [(b"fp-acct", loud("fp-acct", i, T0 + 9000)) for i in range(600)]
        )
        assert wait_for(lambda: len(findings_for(bootstrap, alerts, "loud-1")) > len(first) + 1, 60)
        again = findings_for(bootstrap, alerts, "loud-1")
        assert {f["finding_info"]["uid"] for f in again} == {uid}
        assert worker.metric("abuse_detector_events_processed_total") >= 1200
        assert findings_for(bootstrap, alerts, "fp-acct") == [], (
            "the verdict must survive the restart"
        )
        assert worker.metric("abuse_detector_findings_suppressed_total") >= 1
    finally:
        worker.stop()
