"""kill -9 of the worker three times at seeded random moments while a campaign stream flows.

One run (a module fixture) feeds the smoke scenario plus hand-made scraper accounts through
four worker incarnations; the tests check what it left behind: no lost event, recovery time,
and findings that keep their uid (docs/reliability.md).
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
import pytest
from kafka import KafkaProducer

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
    uid_activity,
)
from tests.kafka_helpers import read_topic, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
KILLS = 3
TAIL_S = 1.5 * 3600  # event time held back until the last kill: only the last worker sees it


class PacedFeed(threading.Thread):
    """Publishes the main stream in small paced chunks, then the tail once ``release`` is set.

    While ``ahead(event_ts)`` says the feed is ahead of the kills, it slows to a trickle:
    events keep flowing until each kill, however slow the machine, and event time barely moves.
    """

    def __init__(
        self, bootstrap: str, topic: str, main: list[dict], tail: list[dict], ahead
    ) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.ahead = bootstrap, topic, ahead
        self.main, self.main_ts, self.tail = encode(main), [e["ts"] for e in main], encode(tail)
        self.release = threading.Event()
        self.last_at: dict[
            bytes, tuple[int, int]
        ] = {}  # key -> (partition, offset) of its last message
        self.in_main = True
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            producer = KafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
            i = 0
            while i < len(self.main):
                slow = self.ahead(self.main_ts[i])
                step = 10 if slow else 60
                self._send(producer, self.main[i : i + step])
                i += step
                time.sleep(1.0 if slow else 0.2)
            self.in_main = False
            self.release.wait(300)
            self._send(producer, self.tail)
            producer.close()
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def _send(self, producer: KafkaProducer, chunk: list) -> None:
        futures = [(key, producer.send(self.topic, key=key, value=value)) for key, value in chunk]
        producer.flush()
        for key, future in futures:
            meta = future.get(30)
            self.last_at[key] = (meta.partition, meta.offset)


@dataclass
class KillRun:
    """What a run with three kills left behind."""

    n: int = 0
    read: int = 0
    ends: dict = field(default_factory=dict)
    committed: dict = field(default_factory=dict)
    recovery: list[float] = field(default_factory=list)
    flowing: list[bool] = field(default_factory=list)
    scraped: list[float] = field(default_factory=list)
    last_alive: bool = False
    alerts: list[tuple[int, dict]] = field(default_factory=list)  # (incarnation, finding)
    links_restored: list[int] = field(default_factory=list)  # per restart, from its log
    groups_restored: list[int] = field(default_factory=list)  # per restart, from its log
    truth: dict = field(default_factory=dict)
    stalls: list[str] = field(default_factory=list)  # stall reports in the workers' logs


@pytest.fixture(scope="module")
def run(broker, tmp_path_factory) -> KillRun:
    rng, unique, logs = (
        random.Random(20260302),
        uuid.uuid4().hex[:10],
        tmp_path_factory.mktemp("kill"),
    )
    _, truth = campaign_stream()
    t0, tail_ts = truth["start_ts"], truth["end_ts"] - TAIL_S
    # loud-brief is flagged by the first worker, then stops; loud-steady sends until the tail,
    # so the last worker sees it and must close the same finding; loud-late only reaches the last.
    brief = [scraper("loud-brief", i, t0 + 30 + 10 * i) for i in range(30)]
    steady = [
        scraper("loud-steady", i, t0 + 600 + 60 * i) for i in range(int((tail_ts - t0) / 60) + 10)
    ]
    late = [scraper("loud-late", i, tail_ts + 300 + 10 * i) for i in range(100)]
    events, _ = campaign_stream(brief, steady, late)
    main = [e for e in events if e["ts"] < tail_ts]
    tail = [e for e in events if e["ts"] >= tail_ts]
    env, app_id = fault_env(unique), f"test-kill-{unique}"
    out = KillRun(n=len(main) + len(tail), truth=truth)
    lives = [Incarnation(broker.url, app_id, env, str(logs / "w0.log")).start()]
    kills: list[
        float
    ] = []  # wall-clock ms right after each kill: alerts before it are older lives'
    lives[0].worker.wait_ready(90)
    # Event time each life may reach before its kill; the first stays short of loud-brief's close.
    gates = (t0 + 2700, t0 + (tail_ts - t0) / 2, t0 + (tail_ts - t0) * 3 / 4, tail_ts)
    feed = PacedFeed(
        broker.bootstrap, env["ABUSE_EVENTS_TOPIC"], main, tail, lambda ts: ts >= gates[len(kills)]
    )
    feed.start()
    try:
        for k in range(KILLS):
            spent = lives[-1].wait_processing(60)
            if k:
                out.recovery.append(spent)
            time.sleep(rng.uniform(1.0, 4.0))
            if k == 0:  # loud-brief's finding is committed and checkpointed, its close not due yet
                assert wait_for(
                    lambda: _committed_past(broker, app_id, env, feed.last_at.get(b"loud-brief")),
                    30,
                )
                time.sleep(1.5)
            out.flowing.append(feed.in_main)
            lives[-1].kill()
            kills.append(time.time() * 1000)
            lives.append(Incarnation(broker.url, app_id, env, str(logs / f"w{k + 1}.log")).start())
        out.recovery.append(lives[-1].wait_processing(60))
        feed.release.set()
        feed.join(120)
        assert feed.error is None and not feed.is_alive(), feed.error
        out.read, out.ends, out.committed = all_committed(
            broker.bootstrap, app_id, env["ABUSE_EVENTS_TOPIC"], out.n
        )
        # The last close comes an hour of event time after loud-steady's last request.
        steady_close = (finding_uid(DETECTOR, "loud-steady"), 3)
        alerts_topic = env["ABUSE_ALERTS_TOPIC"]
        wait_for(
            lambda: (
                steady_close
                in {
                    uid_activity(m.value)
                    for m in read_topic(broker.bootstrap, alerts_topic, idle=0.5)
                }
            ),
            60,
            1.0,
        )
        out.last_alive = lives[-1].worker.alive()
        out.scraped = [life.processed for life in lives]
        for msg in read_topic(broker.bootstrap, alerts_topic, idle=1.0):
            out.alerts.append(
                (sum(1 for k in kills if msg.timestamp >= k), orjson.loads(msg.value))
            )
    finally:
        feed.release.set()
        lives[-1].stop()
    for k in range(KILLS + 1):
        text = (logs / f"w{k}.log").read_text()
        out.stalls += [part[:6000] for part in text.split("[ERROR] worker stalled")[1:]]
        if k == 0:
            continue
        found = re.findall(r"restored (\d+) campaign links", text)
        out.links_restored.append(int(found[-1]) if found else 0)
        found = re.findall(r"restored (\d+) fired coordination groups", text)
        out.groups_restored.append(int(found[-1]) if found else 0)
    return out


def _committed_past(broker, group: str, env: dict[str, str], at: tuple[int, int] | None) -> bool:
    if at is None:
        return False
    offset = committed(broker.bootstrap, group, env["ABUSE_EVENTS_TOPIC"], [at[0]])[at[0]]
    return offset is not None and offset > at[1]


def test_every_event_processed_at_least_once(run):
    print(
        f"\nkill -9 x{KILLS}: {run.n} events; committed {run.committed}, topic ends {run.ends}; "
        f"processed per incarnation (last scrape) {run.scraped}; stall reports {len(run.stalls)}"
    )
    assert all(run.flowing), "each kill must come while events still flow"
    assert run.read == run.n
    assert run.committed == run.ends, (
        "the consumer group must commit every offset of the topic; stall reports:\n"
        + "\n".join(run.stalls)
    )
    assert sum(run.ends.values()) == run.n
    assert run.last_alive


def test_processing_again_within_30_seconds(run):
    print(
        f"\nrecovery after kill -9 (restart to first processed event): {[round(r, 1) for r in run.recovery]} s"
    )
    assert len(run.recovery) == KILLS
    assert all(r <= 30.0 for r in run.recovery)


def test_findings_keep_their_uid_and_collapse(run):
    lives_of: dict[str, set[int]] = defaultdict(set)
    subjects: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for life, f in run.alerts:
        uid, detector, subject = (
            f["finding_info"]["uid"],
            f["finding_info"]["analytic"]["name"],
            f["unmapped"]["subject"],
        )
        assert uid == finding_uid(detector, subject), (
            f"the uid of {detector}/{subject} must derive from them"
        )
        subjects[uid].add((detector, subject))
        lives_of[uid].add(life)
    collapsed = {(f["finding_info"]["uid"], f["activity_id"]) for _, f in run.alerts}
    print(
        f"\nalerts: {len(run.alerts)} raw, {len(collapsed)} after dedup by (uid, activity_id), "
        f"{len(subjects)} findings; per incarnation {[sum(1 for x, _ in run.alerts if x == i) for i in range(KILLS + 1)]}"
    )
    assert all(len(s) == 1 for s in subjects.values()), "one uid, one subject"
    steady, late = finding_uid(DETECTOR, "loud-steady"), finding_uid(DETECTOR, "loud-late")
    assert (steady, 1) in collapsed and (steady, 3) in collapsed
    assert {0, KILLS} <= lives_of[steady], "flagged by the first worker, closed by the last one"
    assert KILLS in lives_of[late], "the last worker detects an account only it has seen"
    assert sum(1 for lives in lives_of.values() if len(lives) > 1) >= 1


def _campaign_keys(run: KillRun) -> dict[str, set[tuple[str, int]]]:
    """Group key -> {(finding uid, incarnation)} of the campaign findings that name it."""
    out: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for life, f in run.alerts:
        if f["finding_info"]["analytic"]["name"] == "hydra-cluster":
            for key in filter(None, f["unmapped"].get("label_keys", "").split(",")):
                out[key].add((f["finding_info"]["uid"], life))
    return out


def test_campaign_links_survive_every_kill(run):
    """Campaign links are checkpointed to their table: every restart restores at least as
    many as the one before (links are only added), and does restore some once campaigns
    had been found before the kill."""
    print(f"\ncampaign links restored per restart: {run.links_restored}")
    assert len(run.links_restored) == KILLS
    assert run.links_restored == sorted(run.links_restored)
    campaign_lives = {
        life for life, f in run.alerts if f["finding_info"]["analytic"]["name"] == "hydra-cluster"
    }
    assert campaign_lives, "campaign findings must be produced"
    first = min(campaign_lives)
    assert all(n > 0 for n in run.links_restored[first + 1 :]), run.links_restored


def test_fired_groups_survive_every_kill(run):
    """Groups that fired are checkpointed to their table and restored at each restart."""
    print(f"\nfired coordination groups restored per restart: {run.groups_restored}")
    assert len(run.groups_restored) == KILLS
    fired_before = [
        any(
            life < k and f["finding_info"]["analytic"]["name"] == "hydra-cluster"
            for life, f in run.alerts
        )
        for k in range(1, KILLS + 1)
    ]
    assert any(fired_before), "campaign findings must come before a kill"
    for k, fired in enumerate(fired_before):
        if fired:  # a group fired before this kill (and expires only after hours of quiet)
            assert run.groups_restored[k] > 0, run.groups_restored


def test_a_group_keeps_its_campaign_across_kills(run):
    """A group key that fired for a campaign stays with that campaign's finding, whichever
    worker incarnation sees the group fire again (group-key links, docs/reliability.md)."""
    keys = _campaign_keys(run)
    assert keys, "campaign findings must name their keys"
    for key, seen in keys.items():
        assert len({uid for uid, _ in seen}) == 1, f"{key} fired for several findings: {seen}"


def test_finding_open_at_a_kill_still_closes(run):
    """A restarted worker reloads open finding records after recovery and closes them."""
    brief = finding_uid(DETECTOR, "loud-brief")
    activities = {f["activity_id"] for _, f in run.alerts if f["finding_info"]["uid"] == brief}
    assert 1 in activities
    assert 3 in activities
