"""Storm bound on a live worker: six simulated hours with a 500-account hydra campaign and a
loud scraper give a few campaign findings (one per hydra head the worker fires before
linking it) with a bounded number of updates, and one account finding with a few updates,
then a close after quiet."""

from __future__ import annotations

from collections import Counter, defaultdict

import orjson
import pytest

from app.sim import generate, load_scenario
from app.stream.process import WorkerProcess
from tests.integration.test_fault_tolerance import all_committed, encode, fault_env, send_all
from tests.kafka_helpers import read_topic

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCENARIO = """
name = "storm"
description = "Six hours: a 500-account hydra campaign and one loud scraper among ordinary traffic."
seed = 5
start = "2026-03-02T06:00:00Z"
duration_hours = 6.0
models = ["claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1"]

[benign]
casual = 1500
power = 20
agent_framework = 200
shared_egress = 100
proxy_users = 30

[[campaigns]]
id = "hydra-500"
kind = "hydra"
start_hours = 0.25
accounts = [500, 500]

[[campaigns]]
id = "loud"
kind = "scraper"
start_hours = 1.0
end_hours = 2.5
"""


def test_a_hydra_campaign_and_a_loud_account_do_not_storm(broker, unique, tmp_path):
    path = tmp_path / "storm.toml"
    path.write_text(SCENARIO)
    events, truth = generate(load_scenario(str(path)))
    events = list(events)
    roles = {acc: info["role"] for acc, info in truth["accounts"].items()}
    env, app_id = fault_env(unique), f"test-storm-{unique}"
    worker = WorkerProcess(broker.url, app_id, env=env, log_path=tmp_path / "worker.log").start()
    try:
        worker.wait_ready(90)
        send_all(broker.bootstrap, env["ABUSE_EVENTS_TOPIC"], encode(events))
        read, ends, committed = all_committed(
            broker.bootstrap, app_id, env["ABUSE_EVENTS_TOPIC"], len(events), timeout=120
        )
        assert read == len(events) and committed == ends, worker.log_tail()
        alerts = [
            orjson.loads(m.value)
            for m in read_topic(broker.bootstrap, env["ABUSE_ALERTS_TOPIC"], idle=3.0)
        ]
    finally:
        worker.stop()

    lifecycle: dict[str, Counter] = defaultdict(Counter)
    members: dict[str, set[str]] = defaultdict(set)
    for f in alerts:
        uid = f["finding_info"]["uid"]
        lifecycle[uid][f["activity_id"]] += 1
        members[uid] |= {r["uid"] for r in f["resources"] if r["type"] == "account"}
    owner = {
        uid: Counter(roles.get(a) for a in accs).most_common(1)[0][0]
        for uid, accs in members.items()
        if accs
    }
    campaign = [uid for uid, who in owner.items() if who == "hydra-500"]
    loud = [uid for uid, who in owner.items() if who == "loud"]
    print(
        f"\nstorm: {len(events)} events; hydra findings {[dict(lifecycle[u]) for u in campaign]}, "
        f"{len(set().union(*(members[u] for u in campaign)))} members named; loud {[dict(lifecycle[u]) for u in loud]}"
    )

    # The hydra runs heads on different client stacks and templates. Replay names it as one
    # campaign; a worker, whose signal order depends on partition interleaving, may fire two
    # heads before either's members are linked and open a finding for each (and a small
    # head's finding may close in a lull and open again). The bound is on storms: a few
    # openings in all, each finding with bounded updates, naming most members. A part of new
    # members goes out at most every flush_s (a minute) and only once it grows the
    # campaign by a quarter, or after straggler_s (20 minutes): over six hours that is a few
    # dozen updates at most, where one update per member would be hundreds.
    opened = sum(lifecycle[uid][1] for uid in campaign)
    assert 1 <= opened <= 5, f"a few campaign findings, got {opened} openings"
    updates = [lifecycle[uid][2] for uid in campaign]
    assert all(n <= 40 for n in updates), f"updates per campaign finding: {updates}"

    # Which members a worker names varies with how signals of different partitions
    # interleave (301 to 490 of 500 over sixteen runs on 2 cores); the bound is on storms.
    named = set().union(*(members[uid] for uid in campaign))
    assert len({a for a in named if roles.get(a) == "hydra-500"}) >= 0.5 * 500
    assert len(loud) == 1
    (uid,) = loud
    assert lifecycle[uid][1] == 1 and lifecycle[uid][2] <= 5
    assert lifecycle[uid][3] == 1, "the loud account's finding closes after it goes quiet"
