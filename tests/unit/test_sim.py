"""The simulator on the smoke scenario: contract, truth, determinism, options, scenario errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from app.cli.main import main
from app.core.text import simhash64
from app.errors import ScenarioError
from app.events import event_from_dict, parse_event
from app.sim import Simulation, generate, load_scenario, scenario_from_dict
from app.sim.defaults import ARCHETYPE_PARAMS, CAMPAIGN_KINDS, CAMPAIGN_PARAMS
from app.sim.output import write_jsonl


@pytest.fixture(scope="module")
def smoke() -> tuple[list[dict], dict]:
    events, truth = generate(load_scenario("smoke"))
    return list(events), truth


def test_every_event_passes_the_contract_in_time_order(smoke: tuple[list[dict], dict]) -> None:
    events, _ = smoke
    assert 5_000 < len(events) < 60_000
    parsed = [event_from_dict(ev) for ev in events]
    ts = [e.ts for e in parsed]
    assert ts == sorted(ts)
    assert len({e.event_id for e in parsed}) == len(parsed)
    # Optional fields are filled, not left out.
    for key in (
        "org_id",
        "api_key_id",
        "ip",
        "asn",
        "country",
        "user_agent",
        "tls_fp",
        "endpoint",
        "max_tokens",
        "status",
        "latency_ms",
    ):
        assert all(key in ev for ev in events), key
    assert sum("conversation_id" in ev for ev in events) > len(events) // 4
    assert all(ev["completion_tokens"] <= ev["max_tokens"] for ev in events)


def test_truth_covers_every_account_and_every_campaign_kind(smoke: tuple[list[dict], dict]) -> None:
    events, truth = smoke
    seen = {ev["account_id"] for ev in events}
    assert seen == set(truth["accounts"])
    kinds = {c["kind"] for c in truth["campaigns"]}
    assert kinds == set(CAMPAIGN_KINDS)
    for camp in truth["campaigns"]:
        assert camp["accounts"], camp["id"]
        assert all(truth["accounts"][a]["role"] == camp["id"] for a in camp["accounts"])
        assert camp["start_ts"] < camp["end_ts"]
    per_role = Counter(truth["accounts"][ev["account_id"]]["role"] for ev in events)
    for role in (
        "casual",
        "power-user",
        "enterprise-pipeline",
        "ci-bot",
        "agent-framework",
        "shared-egress",
        "proxy-user",
        "eval-run",
        "release-curious",
    ):
        assert per_role[role] > 0, role
    # Ground truth stays beside the events, never inside them.
    assert not any("role" in ev or "campaign" in ev for ev in events)


def test_campaign_events_stay_inside_their_window(smoke: tuple[list[dict], dict]) -> None:
    events, truth = smoke
    window = {c["id"]: (c["start_ts"], c["end_ts"]) for c in truth["campaigns"]}
    for ev in events:
        role = truth["accounts"][ev["account_id"]]["role"]
        if role in window and not role.startswith("blended"):
            lo, hi = window[role]
            assert lo <= ev["ts"] < hi


def test_new_model_appears_only_after_the_release(smoke: tuple[list[dict], dict]) -> None:
    events, truth = smoke
    release = truth["release"]
    on_new = [ev["ts"] for ev in events if ev["model"] == release["model"]]
    assert on_new and min(on_new) >= release["ts"]


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    scenario = load_scenario("smoke")
    paths = [tmp_path / f"{name}.jsonl.gz" for name in ("a", "b", "c")]
    write_jsonl(generate(scenario)[0], paths[0])
    # The second run is another process with another string-hash seed.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    cmd = [
        sys.executable,
        "-m",
        "app.cli.main",
        "simulate",
        "--scenario",
        "smoke",
        "--out",
        str(paths[1]),
        "--quiet",
    ]
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=120)
    write_jsonl(generate(scenario, seed=99)[0], paths[2])
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    assert digests[0] == digests[1]
    assert digests[2] != digests[0]


def test_fingerprints_only_matches_simhash_of_the_raw_text() -> None:
    sim = Simulation(load_scenario("smoke"))
    raw = sim.events(raw_text=True)
    fps = sim.events(raw_text=False)
    for _, (a, b) in zip(range(3000), zip(raw, fps, strict=True), strict=False):
        assert "prompt" not in b and "system_prompt" not in b
        assert b["prompt_fp"] == f"{simhash64(a['prompt']):016x}"
        if "system_prompt" in a:
            assert b["system_prompt_fp"] == f"{simhash64(a['system_prompt']):016x}"
        assert parse_event(json.dumps(b).encode()).prompt_fp == int(b["prompt_fp"], 16)


def test_user_corpus_feeds_the_harvest_prompts() -> None:
    corpus = [f"Corpus question number {i}: what is {i} squared plus {i}?" for i in range(50)]
    events, truth = generate(load_scenario("smoke"), prompts=corpus)
    cot = {a for c in truth["campaigns"] if c["kind"] == "cot-harvest" for a in c["accounts"]}
    texts = [ev["prompt"] for ev in events if ev["account_id"] in cot]
    assert texts and sum("Corpus question number" in t for t in texts) > len(texts) * 0.5


def test_start_override_shifts_event_time() -> None:
    sim = Simulation(load_scenario("smoke"), start_ts=1_900_000_000.0)
    first = next(iter(sim.events()))
    assert 1_900_000_000.0 <= first["ts"] < 1_900_000_000.0 + 6 * 3600


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"campaigns": [{"kind": "nope"}]}, "kind must be one of"),
        ({"campaigns": [{"kind": "hydra", "exits": [5, 1]}]}, "lo > hi"),
        ({"campaigns": [{"kind": "hydra", "speed": 3}]}, "unknown parameter"),
        ({"campaigns": [{"kind": "hydra", "start_hours": 30}]}, "start_hours"),
        ({"benign": {"aliens": 3}}, "unknown archetype"),
        ({"models": []}, "at least one model"),
        ({"campaigns": [{"kind": "release-pivot"}], "release": None}, "needs a [release]"),
    ],
)
def test_bad_scenarios_are_rejected_with_a_reason(patch: dict, message: str) -> None:
    raw: dict = {
        "name": "t",
        "models": ["m1"],
        "duration_hours": 6,
        "release": {"model": "m2", "at_hours": 1},
    }
    raw.update(patch)
    if raw.get("release") is None:
        raw.pop("release")
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[")):
        scenario_from_dict(raw)


@pytest.mark.parametrize("name", ["smoke", "standard", "demo", "heldout"])
def test_builtin_scenarios_load_and_hold_every_campaign_kind(name: str) -> None:
    scenario = load_scenario(name)
    assert {c.kind for c in scenario.campaigns} == set(CAMPAIGN_KINDS)
    assert all(scenario.benign[k] > 0 for k in scenario.benign)
    assert scenario.release is not None


def test_the_shapes_probe_draws_hydras_outside_the_default_ranges() -> None:
    scenario = load_scenario("shapes")
    kinds = {c.kind for c in scenario.campaigns}
    assert kinds <= set(CAMPAIGN_KINDS) and "hydra" in kinds
    assert scenario.benign == load_scenario("standard").benign
    # Its hydras draw outside the defaults every other scenario draws from: aged accounts;
    # no shared card, more templates than any default.
    hydras = {c.id: c.params for c in scenario.campaigns if c.kind == "hydra"}
    defaults = CAMPAIGN_PARAMS["hydra"]
    assert hydras["hydra-aged"]["new_share"][1] < defaults["new_share"][0]
    assert hydras["hydra-clean"]["payment_shared"] == (0.0, 0.0)
    assert hydras["hydra-clean"]["templates"][0] > defaults["templates"][1]


def test_the_slow_jobs_probe_draws_benign_automation_outside_the_default_ranges() -> None:
    scenario = load_scenario("slow-jobs")
    standard = load_scenario("standard")
    assert [c.id for c in scenario.campaigns] == [c.id for c in standard.campaigns]
    # Its scheduled jobs run further apart than any default draw, more of them; its
    # agent-framework users open at most a session or so a day (the defaults up to four).
    jobs, agents = scenario.archetypes["ci_bot"], scenario.archetypes["agent_framework"]
    assert jobs["period_min"][0] > ARCHETYPE_PARAMS["ci_bot"]["period_min"][1]
    assert scenario.benign["ci_bots"] > standard.benign["ci_bots"]
    sessions = ARCHETYPE_PARAMS["agent_framework"]["sessions_per_day"]
    assert agents["sessions_per_day"][1] < sessions[1]


def test_the_crowds_probe_draws_benign_crowds_outside_the_default_ranges() -> None:
    scenario = load_scenario("crowds")
    standard = load_scenario("standard")
    assert [c.id for c in scenario.campaigns] == [c.id for c in standard.campaigns]
    population = scenario.archetypes["population"]
    assert population["new_share"][0] > ARCHETYPE_PARAMS["population"]["new_share"][1]
    nat = scenario.archetypes["shared_egress"]["nat_size"]
    assert nat[0] > ARCHETYPE_PARAMS["shared_egress"]["nat_size"][1]
    for crowd in ("release_curious", "proxy_users", "agent_framework", "eval_runs"):
        assert scenario.benign[crowd] > standard.benign[crowd]


def test_unknown_scenario_name_lists_the_builtins() -> None:
    with pytest.raises(ScenarioError, match="smoke"):
        load_scenario("no-such-scenario")


def test_cli_writes_events_and_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, truth_path = tmp_path / "ev.jsonl", tmp_path / "truth.json"
    rc = main(
        [
            "simulate",
            "--scenario",
            "smoke",
            "--out",
            str(out),
            "--truth",
            str(truth_path),
            "--fingerprints-only",
            "--quiet",
        ]
    )
    assert rc == 0
    truth = json.loads(truth_path.read_text())
    lines = out.read_bytes().splitlines()
    assert len(lines) == truth["events"]
    accounts = {parse_event(line).account_id for line in lines}
    assert accounts == set(truth["accounts"])
    assert "events" in capsys.readouterr().err


def test_cli_needs_an_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--scenario", "smoke"]) == 2
    assert "--out" in capsys.readouterr().err


def test_cli_speed_needs_kafka(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["simulate", "--scenario", "smoke", "--out", str(tmp_path / "e.jsonl"), "--speed", "10"]
        )
        == 2
    )
    assert "--speed needs --kafka" in capsys.readouterr().err


def test_send_kafka_reports_an_unreachable_broker_as_a_broker_error() -> None:
    from app.broker import free_port
    from app.errors import BrokerError
    from app.sim.output import send_kafka

    with pytest.raises(BrokerError, match="cannot connect"):
        send_kafka(
            [{"account_id": "a", "ts": 1.0}],
            f"127.0.0.1:{free_port()}",
            "t",
            bootstrap_timeout_ms=500,
        )
