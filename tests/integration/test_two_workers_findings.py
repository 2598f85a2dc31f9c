"""A finding's lifecycle across two workers, one of them killed and restarted.

An account that keeps scraping must keep one open finding however its partitions move: one
create, no close while it is active, whichever worker owns its partition after the restart,
and one close after it goes quiet. A worker must not restore, and then close, a finding
whose account another worker serves (docs/reliability.md, "State follows its partition").
"""

from __future__ import annotations

import time

import orjson
import pytest

from app.findings.ocsf import finding_uid
from app.stream.pipeline import partition_of
from app.stream.process import WorkerProcess
from tests.integration.test_fault_tolerance import scraper
from tests.kafka_helpers import produce, read_topic, wait_for, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = 1_769_940_000.0
PARTITIONS = 2
# A scraper whose finding's uid and account fall in different partitions: a record filed by
# its uid would sit with the other worker's state.
ACCOUNT = next(
    a
    for a in (f"loud-{i}" for i in range(100))
    if partition_of(a.encode(), PARTITIONS)
    != partition_of(finding_uid("account-extraction", a).encode(), PARTITIONS)
)
STEP = 10.0  # seconds of event time between two requests of one account


def _named(prefix: str, partition: int, n: int) -> list[str]:
    """``n`` account ids whose events fall in ``partition``."""
    names = (f"{prefix}-{i}" for i in range(10_000))
    return [a for a in names if partition_of(a.encode(), PARTITIONS) == partition][:n]


def _quiet(account: str, ts: float) -> tuple[bytes, bytes]:
    """An ordinary chat request that moves its partition's event time forward."""
    event = {
        "event_id": f"{account}-{ts}", "ts": ts, "account_id": account, "model": "frontier-1",
        "prompt_tokens": 300, "completion_tokens": 200, "account_created_ts": T0 - 9e6,
    }  # fmt: skip
    return account.encode(), orjson.dumps(event)


def _span(start: float, end: float, loud: bool) -> list[tuple[bytes, bytes]]:
    """Events every ``STEP`` seconds from ``start`` to ``end``: quiet accounts on both
    partitions, and the scraper when ``loud``."""
    quiet = _named("chat", 0, 3) + _named("chat", 1, 3)
    out = []
    for i in range(int((end - start) / STEP)):
        ts = start + i * STEP
        if loud:
            event = {
                **scraper(ACCOUNT, i, ts), "event_id": f"{ACCOUNT}-{ts}",
                "account_created_ts": T0 - 3600,
            }  # fmt: skip
            out.append((ACCOUNT.encode(), orjson.dumps(event)))
        out.append(_quiet(quiet[i % len(quiet)], ts))
    return out


def _lifecycle(bootstrap: str, topic: str) -> list[int]:
    uid = finding_uid("account-extraction", ACCOUNT)
    return [
        f["activity_id"]
        for f in (orjson.loads(m.value) for m in read_topic(bootstrap, topic, idle=1.5))
        if f["finding_info"]["uid"] == uid
    ]


def test_one_finding_lifecycle_across_two_workers_and_a_kill(broker, unique, tmp_path) -> None:
    env = {**worker_env(unique), "ABUSE_PARTITIONS": str(PARTITIONS)}
    events, alerts = env["ABUSE_EVENTS_TOPIC"], env["ABUSE_ALERTS_TOPIC"]
    broker.create_topics([events], partitions=PARTITIONS)
    app_id = f"test-two-{unique}"

    def start(name: str) -> WorkerProcess:
        return WorkerProcess(broker.url, app_id, env=env, log_path=tmp_path / f"{name}.log").start()

    first, second = start("first"), start("second")

    def processed() -> float:
        return sum(w.metric("abuse_detector_events_processed_total") for w in (first, second))

    try:
        first.wait_ready(90)
        second.wait_ready(90)
        produce(broker.bootstrap, events, _span(T0, T0 + 1200, loud=True))
        assert wait_for(lambda: 1 in _lifecycle(broker.bootstrap, alerts), 90), (
            first.log_tail() + second.log_tail()
        )
        time.sleep(2)  # a checkpoint writes the finding's record
        second.kill()  # kill -9: the first takes both partitions, then gives one back
        second = start("second-again")
        second.wait_ready(90)
        assert wait_for(lambda: first.get("/ready")[0] == 200, 60), first.log_tail()
        before = processed()
        # Two hours more of the scraper, whichever worker now serves it.
        batch = _span(T0 + 1200, T0 + 8400, loud=True)
        produce(broker.bootstrap, events, batch)
        assert wait_for(lambda: processed() - before >= len(batch), 120), (
            first.log_tail() + second.log_tail()
        )
        time.sleep(2)
        lifecycle = _lifecycle(broker.bootstrap, alerts)
        assert lifecycle.count(1) == 1, lifecycle
        assert 3 not in lifecycle, f"closed while the account was active: {lifecycle}"
        # Quiet for longer than the close period on both partitions: one close.
        produce(broker.bootstrap, events, _span(T0 + 8400, T0 + 13_000, loud=False))
        assert wait_for(lambda: 3 in _lifecycle(broker.bootstrap, alerts), 90), (
            first.log_tail() + second.log_tail()
        )
        time.sleep(3)
        lifecycle = _lifecycle(broker.bootstrap, alerts)
        print(f"\nfinding across two workers and a kill: activities {lifecycle}")
        assert lifecycle.count(1) == 1 and lifecycle.count(3) == 1, lifecycle
        assert lifecycle[-1] == 3, lifecycle
    finally:
        for worker in (first, second):
            worker.stop()
