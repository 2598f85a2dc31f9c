"""The engine: per-account detection, state hooks, signals, evidence."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from app.core.account import DETECTOR, SIDE_HARVEST, AccountConfig
from app.core.engine import Engine, EngineConfig
from app.core.features import EVIDENCE_CAP, AccountState
from app.core.scoring import corroboration, effective_evidence
from app.core.text import FLAG_CODE, FLAG_COT, FLAG_RUBRIC
from app.core.types import AccountSignal
from app.events import Event
from tests.unit.helpers import replaced
from tests.unit.test_core_features import T0, make_event


def harvester(
    rng: random.Random, account: str, start: float, n: int, gap: float = 20.0
) -> list[Event]:
    """A new account on a cloud network sending templated chain-of-thought prompts."""
    template = rng.getrandbits(64)
    out, t = [], start
    for i in range(n):
        t += rng.expovariate(1 / gap)
        out.append(
            make_event(
                account,
                t,
                event_id=f"{account}-{i}",
                model="model-b",
                prompt_tokens=150,
                completion_tokens=3900,
                max_tokens=4000,
                turn=1,
                flags=FLAG_COT | (FLAG_RUBRIC * (i % 4 == 0)),
                prompt_fp=template ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64)),
                asn=16509,
                ip=f"3.4.{i % 7}.9",
                account_created_ts=start - 3600,
            )
        )
    return out


def paced(
    rng: random.Random,
    account: str,
    start: float,
    n: int,
    gap: float,
    fields: Callable[[int], dict[str, Any]],
) -> list[Event]:
    """An established account on a home network at a person's pace (exponential gaps of
    mean ``gap`` seconds); ``fields(i)`` gives the rest of request ``i``."""
    out, t = [], start
    for i in range(n):
        t += rng.expovariate(1 / gap)
        out.append(
            make_event(
                account,
                t,
                event_id=f"{account}-{i}",
                **fields(i),
                asn=7922,
                ip="73.1.2.3",
                account_created_ts=start - 400 * 86400,
            )
        )
    return out


def casual(rng: random.Random, account: str, start: float, n: int) -> list[Event]:
    """An established account chatting in multi-turn conversations."""
    return paced(
        rng,
        account,
        start,
        n,
        90.0,
        lambda i: {
            "prompt_tokens": rng.randrange(200, 3000),
            "completion_tokens": rng.randrange(50, 900),
            "turn": 1 + i % 5,
            "prompt_fp": rng.getrandbits(64),
            "flags": rng.choice([0, 0, FLAG_CODE, FLAG_COT]),
        },
    )


def account_only() -> Engine:
    """An engine with the per-account stage only."""
    return Engine(EngineConfig(coordination_enabled=False))


def run(engine: Engine, events: list[Event]) -> list:
    found = []
    for e in sorted(events, key=lambda e: e.ts):
        found.extend(engine.process(e))
    return found


def test_harvester_is_flagged_with_evidence_and_benign_is_not() -> None:
    rng = random.Random(11)
    events = harvester(rng, "bad", T0 + 600, 80)
    for k in range(30):
        events += casual(rng, f"good{k}", T0, 60)
    found = run(account_only(), events)
    subjects = {d.subject for d in found}
    assert subjects == {"bad"}
    first = min(found, key=lambda d: d.ts)
    assert first.detector == DETECTOR and first.accounts == ["bad"]
    assert first.ts - (T0 + 600) < 600  # within ten minutes of event time
    assert 0.0 <= first.score <= 1.0 and first.first_seen == first.ts
    names = [e.name for e in first.evidence]
    assert "harvest_share" in names
    assert first.evidence == sorted(first.evidence, key=lambda e: e.weight, reverse=True)


def test_detections_are_not_a_storm() -> None:
    rng = random.Random(5)
    found = run(account_only(), harvester(rng, "bad", T0, 600, gap=2.0))
    assert 1 <= len(found) <= 5  # first detection, a rise, refreshes every ten minutes


def test_signals_are_rate_limited_per_account() -> None:
    rng = random.Random(4)
    engine = Engine(EngineConfig(account=AccountConfig(signal_every_s=300)))
    signals: list[AccountSignal] = []
    for e in casual(rng, "acc", T0, 200):
        _, sig = engine.process_account(e)
        if sig is not None:
            signals.append(sig)
    span = 200 * 90
    assert 2 <= len(signals) <= span / 300 + 5
    assert all(b.ts - a.ts >= 300 for a, b in zip(signals[1:], signals[2:], strict=False))
    assert sum(s.events for s in signals) <= 200
    assert signals[0].account_id == "acc" and any(k.startswith("net:") for k in signals[0].keys)


def test_export_import_continues_identically() -> None:
    rng = random.Random(9)
    events = harvester(rng, "bad", T0, 60)
    a, b = Engine(), Engine()
    for e in events[:30]:
        a.process(e)
        b.process(e)
    data = a.export_account("bad")
    assert data is not None and len(data) < 400
    b.drop_account("bad")
    assert b.accounts_tracked() == 0 and b.export_account("bad") is None
    b.import_account("bad", data)
    assert b.accounts_tracked() == 1
    ra = [(d.ts, d.score) for e in events[30:] for d in a.process(e)]
    rb = [(d.ts, d.score) for e in events[30:] for d in b.process(e)]
    assert [t for t, _ in ra] == [t for t, _ in rb]
    assert [s for _, s in ra] == pytest.approx([s for _, s in rb], abs=1e-3)


def test_expire_accounts_drops_idle_ones() -> None:
    engine = Engine()
    engine.process(make_event("old", T0))
    engine.process(make_event("new", T0 + 8 * 86400))
    assert engine.expire_accounts(T0 + 8 * 86400, idle_s=7 * 86400) == 1
    assert engine.accounts_tracked() == 1


def test_same_seed_same_detections() -> None:
    def once() -> list[tuple[str, float, float]]:
        rng = random.Random(21)
        events = harvester(rng, "bad", T0 + 300, 50)
        for k in range(10):
            events += casual(rng, f"g{k}", T0, 80)
        return [(d.subject, d.ts, d.score) for d in run(Engine(seed=42), events)]

    assert once() == once()


def test_a_harvest_request_from_a_side_client_is_signalled_at_once() -> None:
    # An account chatting from its usual app, that sends harvest-shaped requests through a
    # script on the side: the side requests carry other keys (client, maybe network), so the
    # coordination stage hears of them even though a signal went out a minute ago.
    engine = Engine(EngineConfig(account=AccountConfig(signal_every_s=300, side_signal_s=60)))
    app = {"user_agent": "chat-app/2.1", "tls_fp": "t13d-app"}
    side = {"user_agent": "python-httpx/0.27", "tls_fp": "t13d-script"}
    t = T0
    for i in range(20):
        t += 100.0
        engine.process_account(make_event("acc", t, event_id=f"a{i}", turn=2, **app))
    last = t

    def send(dt: float, flags: int, client: dict[str, str]) -> AccountSignal | None:
        return engine.process_account(make_event("acc", last + dt, flags=flags, **client))[1]

    assert send(70.0, 0, side) is None  # an ordinary request from the script: no news
    sig = send(90.0, FLAG_COT, side)
    assert sig is not None and sig.ts == last + 90.0
    # A short answer leaves no request evidence, yet the side channel itself is the news.
    assert engine.accounts.accounts["acc"].ev < SIDE_HARVEST * EVIDENCE_CAP
    assert sig.harvest >= SIDE_HARVEST
    assert send(120.0, FLAG_COT, side) is None  # at most one per side_signal_s
    assert send(130.0, FLAG_COT, app) is None  # harvest from its own app: the usual pace


def long_answers(
    rng: random.Random, account: str, start: float, n: int, cot_every: int
) -> list[Event]:
    """An established account asking, at a person's pace, for long single-turn answers."""
    return paced(
        rng,
        account,
        start,
        n,
        360.0,
        lambda i: {
            "prompt_tokens": rng.randrange(60, 200),
            "completion_tokens": rng.randrange(3900, 4000),
            "max_tokens": 4000,
            "turn": 1,
            "prompt_fp": rng.getrandbits(64),
            "flags": FLAG_COT if i % cot_every == cot_every - 1 else 0,
        },
    )


def test_long_answers_alone_do_not_flag_an_established_account() -> None:
    """Output shape counts in full for an established account only beside harvest-shaped
    asks: one chain-of-thought request in sixteen is ordinary use, one in two is not."""
    rng = random.Random(3)
    quiet = run(account_only(), long_answers(rng, "essays", T0, 40, cot_every=16))
    assert quiet == []
    loud = run(account_only(), long_answers(rng, "harvest", T0, 40, cot_every=2))
    assert {d.subject for d in loud} == {"harvest"}


def test_coordination_hears_long_answers_as_harvest_only_when_corroborated() -> None:
    """The harvest an established account signals to coordination is weighed as its score
    weighs it: a quarter of its request evidence when it asks for long answers, all of it
    when its asks are harvest-shaped; a new account's counts in full (the group weighs
    newness itself)."""

    def signalled(cot_every: int, created_days_ago: float) -> list[tuple[float, float]]:
        engine = account_only()
        rows = []
        for e in long_answers(random.Random(8), "acc", T0, 40, cot_every):
            e = replaced(e, account_created_ts=e.ts - created_days_ago * 86400)
            sig = engine.process_account(e)[1]
            st = engine.accounts.accounts["acc"]
            if sig is not None and st.ev > 2.0:
                rows.append((sig.harvest, st.ev / EVIDENCE_CAP))
        assert len(rows) > 3
        return rows

    assert all(h == pytest.approx(0.25 * ev, abs=0.01) for h, ev in signalled(16, 400.0)[3:])
    assert all(h == pytest.approx(ev) for h, ev in signalled(16, 1.0))
    assert all(h == pytest.approx(ev, abs=0.01) for h, ev in signalled(2, 400.0)[3:])


def test_a_new_accounts_output_shape_evidence_counts_half_uncorroborated() -> None:
    """A new account's request evidence counts at once, but output shape alone counts
    half: a release-day sign-up reading long answers is not a harvester for that."""
    st = AccountState()
    st.n, st.ev, st.ev_ts = 8, 6.0, T0
    identity = 2.0  # a day-old account: a weak identity
    assert effective_evidence(st, T0 + 60.0, identity, timing=0.0) == pytest.approx(3.0)
    st.hv = 0.3  # a third of its recent asks are reasoning-shaped
    assert effective_evidence(st, T0 + 60.0, identity, timing=0.0) == pytest.approx(6.0)
    st.hv = 0.0
    assert effective_evidence(st, T0 + 60.0, identity, timing=1.0) == pytest.approx(6.0)


def test_asking_for_code_corroborates_long_answers_only_at_twice_the_share() -> None:
    """Developers ask for code as a matter of course: one code question among an
    established account's last three asks does not make its long answers harvest-shaped,
    where one reasoning-shaped ask in three, or code in most asks, does."""
    st = AccountState()
    st.ag = 1.0 / 3.0
    assert corroboration(st, timing=0.0) < 0.5
    st.ag, st.hv = 0.0, 1.0 / 3.0
    assert corroboration(st, timing=0.0) == 1.0
    st.ag, st.hv = 0.8, 0.0
    assert corroboration(st, timing=0.0) == 1.0


def test_a_signal_tells_what_share_of_the_accounts_requests_ask_for_harvest_output() -> None:
    # The coordination stage pools this share over a group's light accounts: the larger of
    # the shares asking for reasoning (or grading, a rewrite) and for code or tool use.
    engine = Engine(EngineConfig(account=AccountConfig(signal_every_s=0)))

    def share(account: str, flags: list[int]) -> float:
        sig = None
        for i, f in enumerate(flags):
            sig = engine.process_account(make_event(account, T0 + 60 * i, flags=f))[1] or sig
        assert sig is not None
        return sig.features["harvest_share"]

    assert share("cot", [FLAG_COT]) == 1.0
    assert share("code", [FLAG_CODE]) == 1.0
    assert share("chat", [0]) == 0.0
    # Each share is its own (a quarter and a half here), the larger counts.
    assert share("mixed", [FLAG_CODE, 0, FLAG_COT, FLAG_COT]) == pytest.approx(0.5)
