"""Alert policy: one finding then bounded updates, hysteresis, close, suppressions, feedback."""

from __future__ import annotations

import orjson
import pytest

from app.core.types import Detection, Evidence
from app.findings.ocsf import finding_uid
from app.findings.policy import (
    AlertPolicy,
    Closing,
    PolicyConfig,
    closing_record,
    severity_for,
)
from app.findings.suppress import Suppression, Suppressions

T0 = 1_769_940_000.0


def account_detection(ts: float, score: float = 0.85, subject: str = "acct-1") -> Detection:
    return Detection(
        "account-extraction", subject, score, ts, T0, [Evidence("output_ratio", 9.0, 1.2, 0.4)]
    )


def group_detection(ts: float, members: int, score: float = 0.8) -> Detection:
    accounts = [f"h{i}" for i in range(members)]
    return Detection("hydra-cluster", "tpl:0:beef", score, ts, T0, [], accounts[:200], members)


def test_finding_contract_fields():
    finding = AlertPolicy().apply(account_detection(T0))[0]
    assert (
        finding["class_uid"] == 2004
        and finding["activity_id"] == 1
        and finding["type_uid"] == 200401
    )
    assert finding["time"] == int(T0 * 1000)
    assert finding["finding_info"]["uid"] == finding_uid("account-extraction", "acct-1")
    assert finding["finding_info"]["analytic"]["name"] == "account-extraction"
    assert finding["resources"] == [{"type": "account", "uid": "acct-1"}]
    assert finding["evidences"][0]["data"]["name"] == "output_ratio"
    assert finding["remediation"]["references"][0].startswith("docs/runbook.md#")
    assert "\n" not in finding["message"] and finding["severity"] in finding["message"]


def test_loud_account_is_one_finding_then_few_updates_then_close():
    policy = AlertPolicy()
    out = []
    for i in range(6 * 60):  # a detection every minute for six hours
        out += policy.apply(account_detection(T0 + 60 * i, score=0.7 + 0.25 * ((i // 40) % 2)))
    assert [f["activity_id"] for f in out].count(1) == 1
    assert 1 <= len(out) <= 6
    assert policy.close_quiet(T0 + 6 * 3600 + 100) == []
    closes = policy.close_quiet(T0 + 8 * 3600)
    assert len(closes) == 1 and closes[0]["activity_id"] == 3 and closes[0]["status"] == "Resolved"


def test_growing_campaign_storm_is_bounded():
    policy = AlertPolicy()
    out = []
    for i in range(6 * 60):
        out += policy.apply(group_detection(T0 + 60 * i, members=10 + int(490 * i / 359)))
    uids = {f["finding_info"]["uid"] for f in out}
    assert len(uids) == 1
    assert [f["activity_id"] for f in out].count(1) == 1
    assert len(out) - 1 <= 20
    assert out[-1]["unmapped"]["total_accounts"] >= 300


@pytest.mark.parametrize(
    ("score", "current", "expected"),
    [(0.95, None, 5), (0.7, None, 3), (0.78, 4, 4), (0.7, 4, 3), (0.1, None, 2)],
)
def test_severity_hysteresis(score, current, expected):
    assert severity_for(score, current, 0.05) == expected


def test_suppressed_account_is_counted_not_published_until_expiry():
    suppressions = Suppressions()
    suppressions.add(Suppression("account", "acct-1", "known load test", expires_ts=T0 + 100))
    policy = AlertPolicy(suppressions=suppressions)
    assert policy.apply(account_detection(T0)) == []
    assert policy.stats.suppressed == 1
    assert len(policy.apply(account_detection(T0 + 200))) == 1


def test_suppressed_members_leave_campaign_findings():
    suppressions = Suppressions()
    suppressions.add(Suppression("account", "h0", "customer"))
    finding = AlertPolicy(suppressions=suppressions).apply(group_detection(T0, 5))[0]
    assert "h0" not in {r["uid"] for r in finding["resources"]}


def test_confirmed_verdict_raises_related_severity():
    policy = AlertPolicy()
    policy.confirm("h3")
    boosted = policy.apply(group_detection(T0, 5, score=0.65))[0]
    plain = AlertPolicy().apply(group_detection(T0, 5, score=0.65))[0]
    assert boosted["severity_id"] == plain["severity_id"] + 1


def test_records_survive_export_import():
    policy = AlertPolicy(PolicyConfig())
    first = policy.apply(account_detection(T0))[0]
    uid = first["finding_info"]["uid"]
    restored = AlertPolicy()
    data = policy.export_record(uid)
    assert data is not None
    restored.import_record(data)
    assert restored.apply(account_detection(T0 + 10)) == []  # same finding, nothing new to say
    closes = restored.close_quiet(T0 + 10_000)
    assert closes[0]["finding_info"]["uid"] == uid


def test_allowlist_file(tmp_path):
    path = tmp_path / "allow.jsonl"
    path.write_text(
        '{"kind": "org", "value": "org-1", "reason": "partner"}\n{"kind": "account", "value": "a", "expires_ts": 5}\n'
    )
    suppressions = Suppressions()
    assert suppressions.load_file(path) == 2
    assert suppressions.match("org", "org-1", T0) is not None
    assert suppressions.match("account", "a", T0) is None  # expired


def test_verdicts_teach_the_learner_to_hold_back_benign_evidence():
    from app.findings.feedback import Verdict, apply_verdict

    policy = AlertPolicy()
    for i in range(40):
        benign = i % 2 == 0
        evidence = [
            Evidence("timing_regularity", 0.95 if benign else 0.2, 0.3),
            Evidence("harvest_share", 0.05 if benign else 0.9, 0.1),
        ]
        found = policy.apply(Detection("account-extraction", f"a{i}", 0.8, T0 + i, T0, evidence))
        if found:  # once it has learned enough, benign-looking ones are already held back
            apply_verdict(
                Verdict(
                    found[0]["finding_info"]["uid"], "false_positive" if benign else "confirmed"
                ),
                policy,
            )
    assert policy.learner.ready
    held_while_training = policy.stats.suppressed_by.get(("account-extraction", "learned"), 0)
    ci_bot = [Evidence("timing_regularity", 0.97, 0.3), Evidence("harvest_share", 0.02, 0.1)]
    harvester = [Evidence("timing_regularity", 0.25, 0.3), Evidence("harvest_share", 0.95, 0.1)]
    assert policy.apply(Detection("account-extraction", "new-bot", 0.8, T0 + 100, T0, ci_bot)) == []
    assert policy.stats.suppressed_by[("account-extraction", "learned")] == held_while_training + 1
    assert (
        len(
            policy.apply(
                Detection("account-extraction", "new-harvester", 0.8, T0 + 100, T0, harvester)
            )
        )
        == 1
    )


def test_learner_is_silent_until_it_has_enough_verdicts():
    policy = AlertPolicy()
    evidence = [Evidence("timing_regularity", 0.97, 0.3)]
    assert policy.learner.probability({"timing_regularity": 0.97}) is None
    assert len(policy.apply(Detection("account-extraction", "x", 0.8, T0, T0, evidence))) == 1


def test_a_verdict_with_a_malformed_time_is_refused_not_raised_through():
    """Every field a verdict converts is checked: the follower skips what parse_verdict
    refuses (EventError) and would die on anything else, then read it again on restart."""
    from app.errors import EventError
    from app.findings.feedback import parse_verdict

    good = parse_verdict(b'{"target": "a", "verdict": "confirmed", "ts": 5, "expires_ts": 9.5}')
    assert (good.ts, good.expires_ts) == (5.0, 9.5)
    assert parse_verdict(b'{"target": "a", "verdict": "confirmed"}').expires_ts is None
    for bad in (
        b'{"target": "a", "verdict": "confirmed", "ts": "2026-01-01T00:00:00Z"}',
        b'{"target": "a", "verdict": "confirmed", "ts": true}',
        b'{"target": "a", "verdict": "false_positive", "expires_ts": "tomorrow"}',
        b'{"target": "a", "verdict": "false_positive", "expires_ts": [1]}',
    ):
        with pytest.raises(EventError) as info:
            parse_verdict(bad)
        assert info.value.reason == "wrong_type"


def test_an_unreadable_stored_record_is_skipped_not_raised():
    """A finding record written by another version (a field this one lacks) or damaged:
    restoring refuses it with ValueError, and a detection whose stored record is such
    starts the finding afresh instead of failing every event of the account."""
    policy = AlertPolicy()
    policy.apply(account_detection(T0))
    uid = finding_uid("account-extraction", "acct-1")
    stale = orjson.loads(policy.export_record(uid))
    for bad in (b"not json", orjson.dumps({**stale, "added_later": 1}), orjson.dumps({"uid": uid})):
        with pytest.raises(ValueError):
            AlertPolicy().import_record(bad)
        fresh = AlertPolicy()
        fresh.loader = lambda _uid, bad=bad: bad
        [finding] = fresh.apply(account_detection(T0 + 60))
        assert finding["activity_id"] == 1 and finding["finding_info"]["uid"] == uid


def test_a_closing_record_is_a_closed_finding_that_holds_its_close():
    """A closed finding's record holds its close until the close is on the broker: reading
    it back gives the close (to publish again) and opens nothing; a detection whose stored
    record is one starts a new lifecycle."""
    policy = AlertPolicy()
    policy.apply(account_detection(T0))
    [close] = policy.close_quiet(T0 + 10_000)
    data = closing_record(close, home=3)
    restored = AlertPolicy()
    assert restored.import_record(data) == Closing(close, 3)
    assert restored.records == {}
    restored.loader = lambda _uid: data
    [finding] = restored.apply(account_detection(T0 + 20_000))
    assert finding["activity_id"] == 1
    bad_home = {"closing": close, "home": "3"}
    for bad in (
        orjson.dumps({"closing": 1}),
        orjson.dumps({"closing": {"uid": "x"}}),
        orjson.dumps(bad_home),
    ):
        with pytest.raises(ValueError):
            AlertPolicy().import_record(bad)
