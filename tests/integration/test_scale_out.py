"""Workers join and leave while events flow: every event is still processed and committed.

A second worker joins one that is draining a backlog, then the first stops (SIGTERM), so
the group rebalances twice under load. The consumer's batch lane must neither ack a batch read
across a rebalance nor leave a hole behind it (docs/reliability.md).
"""

from __future__ import annotations

import pytest

from app.findings.ocsf import finding_uid
from tests.integration.test_fault_tolerance import (
    DETECTOR,
    Incarnation,
    all_committed,
    campaign_stream,
    committed,
    encode,
    fault_env,
    scraper,
    send_all,
    uid_activity,
)
from tests.kafka_helpers import read_topic, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


COPIES = 16  # the campaign stream under as many account namespaces: a backlog of about 210k


def backlog() -> list[tuple[bytes, bytes]]:
    """The campaign stream (plus a loud scraper) copied under ``COPIES`` account prefixes."""
    events, _ = campaign_stream(
        [scraper("loud-scale", i, 1_772_440_000 + 10 * i) for i in range(60)]
    )
    copies = []
    for k in range(COPIES):
        for e in events:
            account = e["account_id"] if k == 0 else f"c{k}-{e['account_id']}"
            copies.append({**e, "account_id": account, "event_id": f"c{k}-{e['event_id']}"})
    return encode(copies)


def test_a_worker_joining_and_one_leaving_mid_drain_lose_nothing(broker, unique, tmp_path):
    messages = backlog()
    env = fault_env(unique)
    topic, app_id = env["ABUSE_EVENTS_TOPIC"], f"test-scale-{unique}"
    ends: dict[int, int] = {}
    for partition, offset in send_all(broker.bootstrap, topic, messages):
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    first = Incarnation(broker.url, app_id, env, str(tmp_path / "first.log")).start()
    second = None
    try:
        assert wait_for(lambda: first.processed > 0, 120, 0.1), first.worker.log_tail()
        # Both changes come while the first worker drains the backlog in large batches.
        second = Incarnation(broker.url, app_id, env, str(tmp_path / "second.log")).start()
        second.wait_processing(90)  # it owns partitions and has processed from them
        at_leave = first.processed
        left = sum(ends.values()) - sum(
            offset or 0
            for offset in committed(broker.bootstrap, app_id, topic, list(ends)).values()
        )
        first.stop()
        count, read_ends, done = all_committed(broker.bootstrap, app_id, topic, len(messages), 180)
        alerts = read_topic(broker.bootstrap, env["ABUSE_ALERTS_TOPIC"], idle=1.0)
        assert second.worker.alive()
        logs = (tmp_path / "first.log").read_text() + (tmp_path / "second.log").read_text()
    finally:
        first.stop()
        if second is not None:
            second.stop()
    overtaken = logs.count("a rebalance overtook")
    print(
        f"\nscale out and in: {count} events, first worker {first.processed:.0f} "
        f"(left at {at_leave:.0f}, {left} events not committed yet), "
        f"second {second.processed:.0f}; "
        f"batches read again after a rebalance: {overtaken}"
    )
    # Offsets are acked only after a batch's output is on the broker: committed == ends
    # means every event was processed by one worker or the other.
    assert read_ends == ends and done == ends and count == len(messages)
    # The first left mid-drain: work remained for the second (first.processed also counts
    # batches read again after a rebalance, so it is no measure of that).
    assert second.processed > 0 and at_leave > 0 and left > 0
    assert "worker stalled" not in logs and "Drain messages raised" not in logs
    assert (finding_uid(DETECTOR, "loud-scale"), 1) in {uid_activity(m.value) for m in alerts}
