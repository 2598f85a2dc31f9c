"""Per-account feature state: shares, template sketch, timing, serialisation."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.features import _LAYOUTS, DRIFT, EVIDENCE_CAP, STRONG, AccountState
from app.core.text import FLAG_CODE, FLAG_COT, FLAG_READ, FLAG_RUBRIC
from app.events import Event

T0 = 1_767_225_600.0  # 2026-01-01


def make_event(account: str = "a1", ts: float = T0, **kw: Any) -> Event:
    """Build one event with plausible defaults; keyword arguments override fields."""
    base: dict[str, Any] = {
        "event_id": f"{account}-{ts}",
        "ts": ts,
        "account_id": account,
        "model": "model-a",
        "prompt_tokens": 400,
        "completion_tokens": 300,
        "max_tokens": 4096,
        "turn": 1,
    }
    base.update(kw)
    return Event(**base)


def feed(state: AccountState, events: list[Event]) -> list[bool]:
    return [state.update(e, False, False, False) for e in events]


def test_first_event_sets_times_and_age() -> None:
    s = AccountState()
    s.update(make_event(ts=T0, account_created_ts=T0 - 86400), False, False, False)
    assert s.n == 1 and s.first_ts == T0 and s.last_ts == T0
    assert s.created_ts == T0 - 86400


def test_shares_follow_the_traffic() -> None:
    s = AccountState()
    events = [
        make_event(ts=T0 + i, flags=FLAG_COT, completion_tokens=4096, prompt_tokens=50)
        for i in range(30)
    ]
    feed(s, events)
    assert s.hv == pytest.approx(1.0)
    assert s.mx == pytest.approx(1.0)  # every completion hit max_tokens
    assert s.ot > 5.0  # log2(4097 / 51)
    assert s.sg == pytest.approx(1.0)
    feed(s, [make_event(ts=T0 + 100 + i, flags=FLAG_CODE, turn=3) for i in range(60)])
    assert s.hv < 0.1 and s.ag > 0.9 and s.sg < 0.1


def test_template_sketch_matches_near_duplicates_only() -> None:
    rng = random.Random(7)
    base = rng.getrandbits(64)
    s = AccountState()
    reused = feed(
        s, [make_event(ts=T0 + i, prompt_fp=base ^ (1 << rng.randrange(64))) for i in range(20)]
    )
    assert reused[0] is False and all(reused[1:])
    assert (s.top_template()[0] ^ base).bit_count() <= 1
    other = AccountState()
    reused = feed(other, [make_event(ts=T0 + i, prompt_fp=rng.getrandbits(64)) for i in range(200)])
    assert sum(reused) <= 2  # random 64-bit hashes are ~32 bits apart
    assert other.tp < 0.05


def test_regular_timing_has_low_gap_spread() -> None:
    rng = random.Random(3)
    clock, poisson = AccountState(), AccountState()
    feed(clock, [make_event(ts=T0 + 60.0 * i + rng.uniform(-0.5, 0.5)) for i in range(100)])
    t = T0
    events = []
    for _ in range(100):
        t += rng.expovariate(1 / 60.0)
        events.append(make_event(ts=t))
    feed(poisson, events)
    assert clock.gap_spread() < 0.1
    assert poisson.gap_spread() > 0.6


def test_baseline_is_frozen_while_flagged() -> None:
    s = AccountState()
    feed(s, [make_event(ts=T0 + i) for i in range(50)])
    s.alert_ts = T0 + 50
    feed(s, [make_event(ts=T0 + 60 + i, flags=FLAG_COT) for i in range(50)])
    assert s.hv > 0.8
    assert s.b_hv == 0.0


def test_out_of_order_event_does_not_break_rates() -> None:
    s = AccountState()
    feed(s, [make_event(ts=T0 + 10), make_event(ts=T0 + 5)])
    assert s.rs > 1.9 and s.last_ts == T0 + 5


def test_roundtrip_bytes_is_fixed_size() -> None:
    s = AccountState()
    feed(
        s,
        [
            make_event(ts=T0 + i, prompt_fp=123456789 + i, ip="10.0.0.1", flags=FLAG_COT)
            for i in range(40)
        ],
    )
    data = s.to_bytes()
    back = AccountState.from_bytes(data)
    assert len(data) == len(AccountState().to_bytes()) < 400
    assert back.n == s.n and back.f0 == s.f0 and back.c0 == s.c0 and back.last_ts == s.last_ts
    assert back.hv == pytest.approx(s.hv, rel=1e-6)


def test_from_bytes_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        AccountState.from_bytes(b"\x07" * 10)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=86400 * 3),
            st.integers(0, 100_000),
            st.integers(0, 100_000),
            st.integers(0, 2**64 - 1),
            st.integers(0, 511),
            st.one_of(st.none(), st.integers(1, 50)),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_state_stays_bounded_and_serialisable(
    rows: list[tuple[float, int, int, int, int, int | None]],
) -> None:
    s = AccountState()
    for dt, p, c, fp, flags, turn in sorted(rows, key=lambda r: r[0]):
        s.update(
            make_event(
                ts=T0 + dt,
                prompt_tokens=p,
                completion_tokens=c,
                prompt_fp=fp,
                flags=flags,
                turn=turn,
            ),
            True,
            False,
            True,
        )
    for share in (s.hv, s.ag, s.tp, s.sg, s.mx, s.lg, s.nm, s.mm, s.ch, s.sw, s.b_hv, s.b_mx):
        assert -1e-9 <= share <= 1.0 + 1e-9
    assert 0.0 <= s.ev <= EVIDENCE_CAP and s.hs >= 0.0
    assert s.gv >= 0.0
    assert AccountState.from_bytes(s.to_bytes()).n == s.n


def harvest_request(ts: float, **kw: Any) -> Event:
    """A chain-of-thought request with a long completion near its max_tokens."""
    base: dict[str, Any] = {
        "flags": FLAG_COT,
        "prompt_tokens": 200,
        "completion_tokens": 3500,
        "max_tokens": 4096,
    }
    base.update(kw)
    return make_event(ts=ts, **base)


def test_request_evidence_accumulates_for_harvest_and_not_for_chat() -> None:
    chat, harvest = AccountState(), AccountState()
    feed(
        chat,
        [
            make_event(ts=T0 + 60 * i, turn=1 + i % 4, completion_tokens=350, prompt_tokens=900)
            for i in range(50)
        ],
    )
    assert chat.ev == 0.0 and chat.hs == 0.0
    feed(harvest, [harvest_request(T0)])
    first = harvest.ev
    assert first > STRONG - DRIFT - 0.5 and harvest.hs == 1.0 and harvest.ev_ts == T0
    feed(harvest, [harvest_request(T0 + 60, flags=FLAG_COT | FLAG_RUBRIC)])
    assert harvest.ev > first + 2.0 and harvest.hs > 1.9
    feed(harvest, [harvest_request(T0 + 120 + i) for i in range(20)])
    assert harvest.ev == EVIDENCE_CAP  # bounded
    assert harvest.ev_ts == T0  # still the same episode


def test_short_harvest_answers_on_one_template_count_only_at_a_machines_pace() -> None:
    # Reasoning asks on one template answered in 150 tokens: short answers count against a
    # harvest, and a person sending them stays under the allowance. Ten a minute sustained
    # is a machine's pace (a scraper of short answers); then they count.
    def asks(state: AccountState, gap_s: float, n: int) -> None:
        feed(state, [make_event(ts=T0 + gap_s * i, flags=FLAG_COT, prompt_fp=0xABCDEF,
                                completion_tokens=150, prompt_tokens=300) for i in range(n)])  # fmt: skip

    person, machine = AccountState(), AccountState()
    asks(person, 60.0, 60)  # one a minute for an hour
    assert person.ev == 0.0
    asks(machine, 3.0, 200)  # twenty a minute for ten minutes
    assert machine.ev > 1.0


def test_requests_of_unknown_content_on_one_template_count_at_a_machines_pace() -> None:
    # A gateway that sends prompt_fp and no text: the content is unknown, so the template
    # and the pace are what show. Text that was read and asks for nothing never counts so.
    def requests(state: AccountState, gap_s: float, flags: int) -> None:
        feed(state, [make_event(ts=T0 + gap_s * i, flags=flags, prompt_fp=0xABCDEF,
                                completion_tokens=800, prompt_tokens=300) for i in range(200)])  # fmt: skip

    unread, read, person = AccountState(), AccountState(), AccountState()
    requests(unread, 3.0, 0)  # twenty a minute for ten minutes
    assert unread.ev > 1.0
    requests(read, 3.0, FLAG_READ)
    assert read.ev == 0.0
    requests(person, 60.0, 0)  # one a minute
    assert person.ev == 0.0


def test_ordinary_requests_end_an_episode() -> None:
    s = AccountState()
    feed(s, [harvest_request(T0)])
    feed(
        s, [make_event(ts=T0 + 60 * (i + 1), turn=2 + i, completion_tokens=200) for i in range(10)]
    )
    assert s.ev == 0.0
    feed(s, [harvest_request(T0 + 3600)])
    assert s.ev > 0.0 and s.ev_ts == T0 + 3600


def test_requests_from_a_second_client_count_as_switches() -> None:
    s = AccountState()
    feed(s, [make_event(ts=T0 + i, user_agent="Mozilla/5.0", tls_fp="chrome") for i in range(10)])
    assert s.sw == 0.0
    feed(
        s,
        [
            make_event(ts=T0 + 20 + i, user_agent="python-requests/2.31", tls_fp="py")
            for i in range(3)
        ],
    )
    assert s.sw > 0.1


def test_side_channel_evidence_is_not_drained_by_ordinary_traffic() -> None:
    # Harvest through a second client among the account's own chat: the account's CUSUM
    # drains on every ordinary request, the side channel's only fades with time.
    s = AccountState()
    app = {"user_agent": "chat-app/2.1", "tls_fp": "t13d-app"}
    side = {"user_agent": "python-httpx/0.27", "tls_fp": "t13d-script"}
    t = T0
    for _ in range(30):
        t += 60.0
        s.update(make_event(ts=t, turn=3, **app), False, False, False)
    for _ in range(3):
        t += 60.0
        s.update(harvest_request(t, **side), False, False, False)
        for _ in range(5):
            t += 60.0
            s.update(make_event(ts=t, turn=3, **app), False, False, False)
    assert s.ev == 0.0
    assert s.sv > STRONG - DRIFT
    before = s.sv
    s.update(make_event(ts=t + 6 * 3600.0, turn=3, **app), False, False, False)
    assert s.sv == pytest.approx(before / math.e, rel=1e-3)  # six hours fade it by e


def test_a_version_1_record_restores_without_side_channel_evidence() -> None:
    s = AccountState()
    feed(s, [make_event(ts=T0 + i, flags=FLAG_COT) for i in range(10)])
    s.sv = 3.0
    fields, pack = _LAYOUTS[1]
    old = pack.pack(1, *(getattr(s, name) for name in fields))
    back = AccountState.from_bytes(old)
    assert len(old) < len(s.to_bytes())
    assert back.n == s.n and back.last_ts == s.last_ts and back.sv == 0.0
    assert back.ev == pytest.approx(s.ev, rel=1e-6)
