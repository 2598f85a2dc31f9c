from __future__ import annotations

import random

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from app.core.coordination import (
    IGNORED,
    CoordinationConfig,
    CoordinationDetector,
    first_routed,
    routed_keys,
)
from app.core.coordination_campaign import Campaign
from app.core.coordination_group import Group, Obs, Profile
from app.core.coordination_sketch import seeded_hash
from app.core.engine import Engine, EngineConfig
from app.core.text import FLAG_COT
from app.core.types import AccountSignal, Detection, decode_signal_entries
from app.events import event_from_dict
from app.sim import load_scenario
from app.sim.generate import generate
from app.stream.pipeline import key_partition, route_signals
from tests.unit.helpers import replaced

T0 = 1_767_225_600.0
TEMPLATE = 0x5A5A_F0F0_3C3C_9696


def _near(fp: int, rng: random.Random, bits: int = 4) -> int:
    for b in rng.sample(range(64), bits):
        fp ^= 1 << b
    return fp


def _background(rng: random.Random, n: int = 400) -> list[AccountSignal]:
    """Unrelated, established accounts, each on its own network and card, a few on one NAT."""
    out = []
    for i in range(n):
        for j in range(3):
            out.append(
                AccountSignal(
                    account_id=f"user-{i}",
                    ts=T0 + rng.uniform(0, 3 * 3600) + j,
                    keys=(f"net:10.{i % 7}.{i}", f"pay:card-u{i}", f"client:browser{i % 3}"),
                    account_age_days=rng.uniform(40, 900),
                    org_id=f"org-u{i}",
                    prompt_fp=rng.getrandbits(64),
                    features={"rate_per_min": rng.uniform(0.05, 2.0)},
                )
            )
    return out


def _member(
    rng: random.Random, account_id: str, ts: float, keys: tuple[str, ...], **kw: object
) -> AccountSignal:
    """A light new account on the campaign template; ``kw`` overrides age, harvest, flags."""
    age = kw.pop("account_age_days", None)  # drawn here only when not given (same rng order)
    fields: dict = {
        "account_age_days": rng.uniform(0.5, 6) if age is None else age,
        "prompt_fp": _near(TEMPLATE, rng),
        "features": {"rate_per_min": 0.05},
        **kw,
    }
    return AccountSignal(account_id=account_id, ts=ts, keys=keys, **fields)


def _swarm(rng: random.Random, n: int = 60, start: float = T0 + 3600) -> list[AccountSignal]:
    """New accounts behind a few proxy exits, sharing cards and one scripted client."""
    out = []
    for k in range(4 * n):
        i = k % n  # round-robin over the accounts
        keys = (f"net:203.0.{i % 8}", f"pay:card-h{i % 12}", "client:script-1")
        out.append(
            _member(
                rng,
                f"hydra-{i}",
                start + k * 20.0,
                keys,
                org_id=f"org-h{i}",
                harvest=0.4,
                flags=FLAG_COT,
            )  # fmt: skip
        )
    return out


def _run(det: CoordinationDetector, signals: list[AccountSignal]) -> list[Detection]:
    out: list[Detection] = []
    for s in sorted(signals, key=lambda s: s.ts):
        out.extend(det.observe(s))
    return out + det.flush(T0 + 86400)


def _named(dets: list[Detection]) -> set[str]:
    return {a for d in dets for a in d.accounts}


def test_single_signal_is_not_a_campaign() -> None:
    det = CoordinationDetector(CoordinationConfig(), seed=1)
    assert det.observe(AccountSignal(account_id="a1", ts=T0, keys=("client:x",))) == []
    assert det.export_group("missing") is None


def test_hydra_swarm_is_found_and_named_without_bystanders() -> None:
    rng = random.Random(7)
    dets = _run(CoordinationDetector(seed=3), _background(rng) + _swarm(rng))
    assert dets, "the swarm was not found"
    named = _named(dets)
    assert {f"hydra-{i}" for i in range(60)} <= named
    assert not {a for a in named if not a.startswith("hydra-")}
    first = dets[0]
    assert first.detector == "hydra-cluster"
    assert first.ts - (T0 + 3600) <= 15 * 60
    assert {e.name for e in first.evidence} >= {"new_accounts", "harvest_content"}
    assert first.labels["campaign"] == first.subject
    assert len({d.labels["campaign"] for d in dets}) == 1  # one campaign, not one per key


def test_benign_crowds_raise_nothing() -> None:
    rng = random.Random(11)
    crowd = _background(rng, 600)
    # Release day: many fresh sign-ups on one network try the new model, no harvesting.
    for i in range(150):
        crowd.append(
            AccountSignal(
                account_id=f"curious-{i}",
                ts=T0 + 7200 + i * 5,
                keys=("net:198.51.100", f"pay:card-c{i}", "client:browser0"),
                account_age_days=0.2,
                org_id=f"org-c{i}",
                prompt_fp=rng.getrandbits(64),
                features={"new_model": 1.0},
            )
        )
    assert _run(CoordinationDetector(seed=3), crowd) == []


def test_one_org_is_one_customer() -> None:
    rng = random.Random(5)
    signals = _swarm(rng)
    for s in signals:
        s.org_id = "org-enterprise"
    assert _run(CoordinationDetector(seed=3), signals) == []


def test_large_campaign_is_reported_in_bounded_parts() -> None:
    rng = random.Random(9)
    cfg = CoordinationConfig(max_named=50)
    det = CoordinationDetector(cfg, seed=3)
    dets = _run(det, _swarm(rng, n=180))
    assert all(len(d.accounts) <= 50 for d in dets)
    assert len({d.subject for d in dets}) == 1, "one campaign, one finding"
    parts = sorted({int(d.labels["part"]) for d in dets})
    assert parts == list(range(1, len(parts) + 1)) and len(parts) >= 4
    assert [int(d.labels["part"]) for d in dets] == sorted(int(d.labels["part"]) for d in dets)
    assert len(_named(dets)) >= 0.9 * 180
    assert dets[-1].total_accounts == len(_named(dets))


def test_state_is_bounded_and_expires() -> None:
    cfg = CoordinationConfig(max_groups=500)
    det = CoordinationDetector(cfg, seed=3)
    for i in range(5000):
        for j in range(2):
            det.observe(AccountSignal(account_id=f"a{i}-{j}", ts=T0 + i, keys=(f"net:{i}",)))
    assert 0 < det.groups_tracked() <= 500
    det.expire(T0 + 5000 + cfg.idle_ttl_s + 1)
    assert det.groups_tracked() == 0


def test_group_state_round_trips_through_bytes() -> None:
    rng = random.Random(2)
    det = CoordinationDetector(seed=3)
    _run(det, _swarm(rng, n=30))
    data = det.export_group("client:script-1")
    assert data is not None
    other = CoordinationDetector(seed=3)
    other.import_group("client:script-1", data)
    assert other.export_group("client:script-1") == data
    with pytest.raises(ValueError):
        other.import_group("client:other", data)


def test_same_input_same_detections() -> None:
    a = _run(CoordinationDetector(seed=3), _swarm(random.Random(4)))
    b = _run(CoordinationDetector(seed=3), _swarm(random.Random(4)))
    assert [(d.subject, d.accounts) for d in a] == [(d.subject, d.accounts) for d in b]


def _rekeyed(det: CoordinationDetector, s: AccountSignal, partitions: int) -> list[Detection]:
    """Deliver a signal the way the worker does: through the signal topic's messages."""
    out: list[Detection] = []
    messages = route_signals([s], partitions, frozenset()).messages
    for _, _, value in messages:
        for signal, keys in decode_signal_entries(orjson.loads(value)):
            out.extend(det.observe(signal, keys))
    return out


def test_signal_messages_carry_each_key_once_in_its_own_partition() -> None:
    signals = [
        AccountSignal(
            account_id=f"a{i}", ts=T0 + i, keys=(f"net:10.0.{i}", "client:x", f"pay:c{i % 3}")
        )
        for i in range(25)
    ] + [AccountSignal(account_id="keyless", ts=T0, keys=())]
    messages = route_signals([s for s in signals if s.keys], 4, frozenset(), 10).messages
    delivered: list[tuple[str, str]] = []
    for partition, key, value in messages:
        assert key == f"signals-{partition}".encode()
        entries = orjson.loads(value)
        assert 0 < len(entries) <= 10
        for body, keys in entries:
            assert all(key_partition(k, 4) == partition for k in keys)
            delivered += [(AccountSignal.decode(body).account_id, k) for k in keys]
    partitioner = DefaultPartitioner()
    assert all(
        key_partition(k, 4) == partitioner(k.encode(), [0, 1, 2, 3], [0, 1, 2, 3])
        for s in signals
        for k in s.keys
    ), "a key's signals and its group's table record share a partition"
    expected = [(s.account_id, k) for s in signals for k in s.keys]
    assert sorted(delivered) == sorted(expected), "every key of every signal exactly once"
    assert len(messages) < len(expected) / 5, "a batch is a handful of messages, not one per key"


def test_keys_of_owned_partitions_stay_and_the_rest_travel_once() -> None:
    signals = [
        AccountSignal(
            account_id=f"a{i}", ts=T0 + i, keys=(f"net:10.0.{i}", "client:x", f"pay:c{i % 3}")
        )
        for i in range(25)
    ]
    routed = route_signals(signals, 4, frozenset({0, 2}), per_message=10)
    local = [(s.account_id, k) for s, keys in routed.local for k in keys]
    assert all(key_partition(k, 4) in (0, 2) for _, k in local)
    assert len({s.account_id for s, _ in routed.local}) == len(routed.local), "one delivery each"
    travelled: list[tuple[str, str]] = []
    for partition, _, value in routed.messages:
        assert partition in (1, 3), "no message for a partition this worker owns"
        for body, keys in orjson.loads(value):
            signal = AccountSignal.decode(body)
            travelled += [(signal.account_id, k) for k in keys]
    expected = [(s.account_id, k) for s in signals for k in s.keys]
    assert sorted(local + travelled) == sorted(expected), "every key of every signal once"
    assert local and travelled
    everything = route_signals(signals, 4, frozenset(range(4)))
    assert everything.messages == []
    assert [(s.account_id, keys) for s, keys in everything.local] == [
        (s.account_id, list(s.keys)) for s in signals
    ], "owning every partition, every signal stays with all its keys, in order"
    assert route_signals(signals, 4, frozenset()).local == []


def test_only_keys_that_form_groups_travel_and_every_signal_counts_once() -> None:
    """Template bands and sign-up cohorts never form a group: they are not routed. A signal
    with nothing else still travels once, so the population baseline counts every account,
    exactly as replay's one delivery does."""
    events, _ = generate(load_scenario("smoke"), seed=1, raw_text=False)
    stage = Engine(EngineConfig(coordination_enabled=False))
    signals = [
        s
        for row in events
        if (s := stage.process_account(event_from_dict(row))[1]) is not None and s.keys
    ]
    signals.append(AccountSignal(account_id="cohort-only", ts=signals[-1].ts, keys=("cohort:x:1",)))
    kinds = {k.partition(":")[0] for s in signals for k in s.keys}
    assert {"tpl", "cohort", "net", "client"} <= kinds, "the smoke run has every kind of key"
    whole, rekeyed = CoordinationDetector(seed=5), CoordinationDetector(seed=5)
    half = CoordinationDetector(seed=5)  # partitions 0 and 1 owned here, 2 and 3 elsewhere
    got_whole: list[Detection] = []
    got_rekeyed: list[Detection] = []
    got_half: list[Detection] = []
    delivered: list[str] = []
    for s in signals:
        got_whole.extend(whole.observe(s))
        routed = route_signals([s], 4, frozenset({0, 1}))
        for signal, keys in routed.local:
            got_half.extend(half.observe(signal, keys))
        for _, _, value in routed.messages:
            for signal, keys in decode_signal_entries(orjson.loads(value)):
                got_half.extend(half.observe(signal, keys))
        for _, _, value in route_signals([s], 4, frozenset()).messages:
            for signal, keys in decode_signal_entries(orjson.loads(value)):
                delivered += keys
                got_rekeyed.extend(rekeyed.observe(signal, keys))
    assert "cohort:x:1" in delivered
    routed = [k for k in delivered if k.partition(":")[0] not in IGNORED]
    assert len(routed) == len(delivered) - 1, "no template band or cohort key travels"
    assert rekeyed._pop_n == whole._pop_n == half._pop_n == len(signals)
    assert rekeyed._pop == whole._pop == half._pop
    assert got_whole and _named(got_rekeyed) == _named(got_whole) == _named(got_half)


def test_the_first_routed_key_is_the_first_key_of_a_kind_groups_form_on() -> None:
    # The keys groups form on, told by their kind (``tplx`` is not ``tpl``); the first is
    # the one a signal's baseline delivery comes under, found without the list.
    kinds = ["net", "tpl", "cohort", "client", "pay", "sys", "infra", "tplx", "cohorts"]
    rng = random.Random(4)
    for _ in range(500):
        keys = tuple(f"{rng.choice(kinds)}:{rng.randrange(9)}" for _ in range(rng.randrange(6)))
        routed = routed_keys(keys)
        assert routed == ([k for k in keys if k.partition(":")[0] not in IGNORED] or list(keys[:1]))
        assert first_routed(keys) == (routed[0] if routed else "")


def test_signals_delivered_once_per_key_find_what_one_delivery_finds() -> None:
    """The worker re-keys a signal across the signal topic's partitions; replay folds it
    in at once.

    Both must see the same account: a group of one key still weighs the account's other
    links (here the client the card's holders share), or re-keyed evidence is lost.
    """
    rng = random.Random(11)
    swarm = [
        AccountSignal(
            account_id=f"hydra-{k % 60}",
            ts=T0 + 3600 + k * 20.0,
            keys=(f"net:198.51.{k % 60}", "pay:card-shared", "client:script-1"),
            account_age_days=rng.uniform(0.5, 6),
            harvest=0.4,
            flags=FLAG_COT,
            org_id=f"org-h{k % 60}",
            prompt_fp=_near(TEMPLATE, rng),
            features={"rate_per_min": 0.05},
        )
        for k in range(240)
    ]
    signals = sorted(_background(rng) + swarm, key=lambda s: s.ts)
    whole, rekeyed = CoordinationDetector(seed=5), CoordinationDetector(seed=5)
    got_whole: list[Detection] = []
    got_rekeyed: list[Detection] = []
    for s in signals:
        got_whole.extend(whole.observe(s))
        got_rekeyed.extend(_rekeyed(rekeyed, s, partitions=3))
    got_whole += whole.flush(T0 + 86400)
    got_rekeyed += rekeyed.flush(T0 + 86400)
    assert _named(got_rekeyed) == _named(got_whole) == {f"hydra-{i}" for i in range(60)}
    first_whole, first_rekeyed = got_whole[0], got_rekeyed[0]
    assert first_rekeyed.score == first_whole.score
    assert {e.name: e.value for e in first_rekeyed.evidence} == {
        e.name: e.value for e in first_whole.evidence
    }
    assert {e.name: e.value for e in first_rekeyed.evidence}["shared_infra"] == 1.0


def test_a_campaign_that_goes_quiet_still_reports_its_last_members() -> None:
    rng = random.Random(7)
    # Parts of at least 20 members after 15 minutes, stragglers after an hour: the swarm's
    # last few are left pending.
    det = CoordinationDetector(
        CoordinationConfig(flush_s=900.0, min_part=20, straggler_s=3600.0), seed=3
    )
    signals = sorted(_background(rng) + _swarm(rng), key=lambda s: s.ts)
    dets = _run_open(det, signals)
    pending = sum(len(c.pending) for c in det._campaigns.values())
    assert pending > 0, "the swarm's last members wait for the next part"
    later = det.due(signals[-1].ts + det.config.straggler_s)
    assert _named(dets + later) == {f"hydra-{i}" for i in range(60)}
    assert det.flush(signals[-1].ts + 86400) == []


def _run_open(det: CoordinationDetector, signals: list[AccountSignal]) -> list[Detection]:
    out: list[Detection] = []
    for s in signals:
        out.extend(det.observe(s))
    return out


@pytest.mark.parametrize("near", [False, True], ids=["own-templates", "near-templates"])
def test_campaigns_on_two_stacks_are_not_joined_by_a_template(near: bool) -> None:
    """Two rings of new accounts, each on its own stack, every account on a network and
    card of its own: only its stack's group finds a ring. Each stack's established users
    send one popular prompt, which both groups hold as a centre; the rings' templates are
    far apart, or 3 bits apart (two campaigns on one public wrapper). A template two
    groups share does not make the second campaign the first's."""
    rng = random.Random(11)
    popular = 0x0F0F_3333_5555_C3C3
    other = _near(TEMPLATE, rng, 3) if near else 0x9C71_2E4B_A0D8_5F16

    def ring(tag: str, template: int, start: float) -> list[AccountSignal]:
        users = [
            AccountSignal(account_id=f"{tag}-user-{i}", ts=start - 3000 + i * 100.0 + j,
                          keys=(f"net:10.{tag}.{i}", f"pay:card-{tag}u{i}", f"client:{tag}"),
                          account_age_days=rng.uniform(60, 900), org_id=f"org-{tag}u{i}",
                          prompt_fp=_near(popular, rng))
            for i in range(15) for j in range(4)
        ]  # fmt: skip
        members = [
            _member(rng, f"{tag}-{k % 40}", start + k * 20.0,
                    (f"net:{tag}.{k % 40}", f"pay:card-{tag}{k % 40}", f"client:{tag}"),
                    org_id=f"org-{tag}{k % 40}", prompt_fp=_near(template, rng), harvest=0.4,
                    flags=FLAG_COT)
            for k in range(160)
        ]  # fmt: skip
        return users + members

    det = CoordinationDetector(seed=3)
    dets = _run(det, ring("a", TEMPLATE, T0 + 3600) + ring("b", other, T0 + 4 * 3600))
    campaign = {a: d.subject for d in dets for a in d.accounts}
    a = {campaign.get(f"a-{i}") for i in range(40)}
    b = {campaign.get(f"b-{i}") for i in range(40)}
    assert None not in a | b, "every member of both rings is named"
    assert not a & b, "no campaign holds members of both rings"
    assert not any("user" in acc for acc in campaign)


def test_a_campaign_still_in_action_refreshes_without_new_members() -> None:
    rng = random.Random(5)
    cfg = CoordinationConfig(refresh_s=1200.0)
    det = CoordinationDetector(cfg, seed=3)
    # The same 60 accounts keep harvesting for six hours: all are named early, then only
    # refreshes (no new members) keep the campaign's finding open.
    signals = _swarm(rng, n=60) + [
        s for k in range(1, 6) for s in _swarm(rng, n=60, start=T0 + 3600 + k * 4000)
    ]
    dets = _run_open(det, sorted(signals, key=lambda s: s.ts))
    named = _named(dets)
    assert {f"hydra-{i}" for i in range(60)} <= named
    late = [d for d in dets if d.ts >= T0 + 3600 + 4 * 4000]
    assert late, "the campaign must still be reported while it goes on"
    assert all(d.total_accounts == dets[-1].total_accounts for d in late)
    assert len({d.subject for d in dets}) == 1
    assert all(d.labels["named_by"] == "" for d in late), "a refresh names nobody"


def _tallied(label: str) -> dict[str, int]:
    return {k: int(n) for k, _, n in (kv.rpartition("=") for kv in label.split(",") if kv)}


def test_each_part_says_which_groups_named_its_members() -> None:
    rng = random.Random(7)
    swarm = _swarm(rng)
    dets = _run(CoordinationDetector(seed=3), _background(rng) + swarm)
    swarm_keys = {k for s in swarm for k in s.keys}
    assert dets
    part = 0
    for d in dets:
        tally = _tallied(d.labels["named_by"])
        if int(d.labels["part"]) == part:  # a refresh re-lists recent members, names nobody
            assert not tally
            continue
        part = int(d.labels["part"])
        assert sum(tally.values()) == len(d.accounts)
        assert set(tally) <= swarm_keys
        assert list(tally.values()) == sorted(tally.values(), reverse=True)


def test_campaign_links_survive_a_restart_through_their_records() -> None:
    rng = random.Random(7)
    first = CoordinationDetector(seed=3)
    dets = _run(first, _background(rng) + _swarm(rng))
    subject = dets[0].labels["campaign"]
    records = first.export_links()
    assert records and first.export_links() == [], "each link is exported once"
    restarted = CoordinationDetector(seed=3)
    for key, value in records:
        restarted.import_link(key, value)
    members = [seeded_hash(f"hydra-{i}", 3) for i in range(60)]
    assert restarted._members.majority(members) == subject
    assert CoordinationDetector(seed=3)._members.majority(members) is None
    rest = _background(random.Random(9)) + _swarm(random.Random(8), n=90, start=T0 + 7200)
    again = _run(restarted, rest)
    assert again and {d.labels["campaign"] for d in again} == {subject}
    assert _named(again) <= {f"hydra-{i}" for i in range(60, 90)}, "old members stay named once"


def test_a_group_that_fired_keeps_its_campaign_after_a_restart_with_all_new_members() -> None:
    """A hydra rotates accounts (and here its client): after a restart its groups refill
    with accounts no link names, a group other than the first to fire fires first, and the
    group-key links alone keep the campaign's subject."""
    rng = random.Random(7)
    first = CoordinationDetector(seed=3)
    subject = _run(first, _background(rng) + _swarm(rng))[0].labels["campaign"]
    records = first.export_links()
    assert {b"group:client:script-1", b"group:net:203.0.0"} <= {key for key, _ in records}
    fresh = [
        replaced(
            s,
            account_id=s.account_id.replace("hydra-", "rotated-"),
            keys=tuple(
                k.replace("card-h", "card-r").replace("script-1", "script-2") for k in s.keys
            ),
        )
        for s in _swarm(random.Random(8), n=60, start=T0 + 7200)
    ]
    restarted = CoordinationDetector(seed=3)
    for key, value in records:
        restarted.import_link(key, value)
    again = _run(restarted, _background(random.Random(9)) + fresh)
    assert subject in {d.labels["campaign"] for d in again}
    cold = _run(CoordinationDetector(seed=3), _background(random.Random(9)) + fresh)
    assert cold and subject not in {d.labels["campaign"] for d in cold}, "the links did it"
    with pytest.raises(ValueError, match="not a campaign link"):
        restarted.import_link(b"bad", b"x")


def _quiet(
    rng: random.Random,
    keys,
    n: int = 60,
    age: tuple[float, float] | None = None,
    own_prompts: bool = False,
    **kw: object,
) -> list[AccountSignal]:
    """Light accounts taking turns, that neither harvest openly nor spoof their client.

    ``keys(i)`` are account i's keys and ``kw`` its other fields (the template and a new
    age by default); ``age`` draws each signal's age from a range, and ``own_prompts``
    gives every signal a prompt of its own instead of the template.
    """
    out = []
    for k in range(4 * n):
        i = k % n
        if age is not None:
            kw["account_age_days"] = rng.uniform(*age)
        out.append(_member(rng, f"quiet-{i}", T0 + 3600 + k * 20.0, keys(i), org_id=f"org-q{i}", **kw))  # fmt: skip
    if own_prompts:
        for sig in out:
            sig.prompt_fp = rng.getrandbits(64)
    return out


def _stratified(rng: random.Random, age: tuple[float, float]) -> list[AccountSignal]:
    """A swarm on one scripted client whose content single requests do not betray, beside a
    stratum of new accounts on the same client that harvest openly."""
    out = _quiet(rng, lambda i: (f"net:203.0.{i % 8}", "client:script-q"), age=age)
    for k in range(80):
        i = k % 16
        keys = (f"net:198.18.{i}", "client:script-q")
        out.append(
            _member(
                rng,
                f"loud-{i}",
                T0 + 3600 + k * 60.0 + 7.0,
                keys,
                org_id=f"org-l{i}",
                harvest=0.8,
                flags=FLAG_COT,
            )  # fmt: skip
        )
    return out


def test_a_harvesting_stratum_does_not_hide_the_rest_of_a_hydra() -> None:
    """Where few members harvest, members are named by being new and on the template."""
    rng = random.Random(21)
    named = _named(
        _run(CoordinationDetector(seed=3), _background(rng) + _stratified(rng, (0.5, 6)))
    )
    assert {f"quiet-{i}" for i in range(60)} <= named
    assert not any(a.startswith("user-") for a in named)


def test_without_two_other_checks_the_harvest_check_stays() -> None:
    """Aged accounts on the template but not harvesting: one check (template) is too little."""
    rng = random.Random(21)
    named = _named(
        _run(CoordinationDetector(seed=3), _background(rng) + _stratified(rng, (200, 900)))
    )
    assert not any(a.startswith("quiet-") for a in named)


def test_new_members_on_the_template_are_named_by_a_harvest_near_the_line() -> None:
    """A hydra's light accounts harvest by a request or two, so their evidence straddles
    the line: half the new accounts on the template harvest over it, the other half at
    ``low``. Those at least ``NEAR_LINE`` of the line are named with them; those under that,
    and aged accounts as near the line, are not."""
    for low, age, named_low in ((0.1, None, True), (0.03, None, False), (0.1, (200, 900), False)):
        rng = random.Random(31)
        swarm = _quiet(rng, lambda i: (f"net:203.0.{i // 8}", "client:script-q"), flags=FLAG_COT)
        for sig in swarm:
            i = int(sig.account_id.split("-")[1])
            sig.harvest = 0.4 if i % 2 == 0 else low
            if i % 2 and age is not None:
                sig.account_age_days = rng.uniform(*age)
        named = _named(_run(CoordinationDetector(seed=3), _background(rng) + swarm))
        assert {f"quiet-{i}" for i in range(0, 60, 2)} <= named
        got = {f"quiet-{i}" for i in range(1, 60, 2)} & named
        assert len(got) == (30 if named_low else 0), (low, age, len(got))
        assert not any(a.startswith("user-") for a in named)


def test_fired_groups_survive_a_restart_and_name_new_members_at_once() -> None:
    rng = random.Random(7)
    first = CoordinationDetector(seed=3)
    subject = _run(first, _background(rng) + _swarm(rng))[0].labels["campaign"]
    records = first.export_groups()
    assert records and first.export_groups() == [], "each change is exported once"
    keys = {key for key, value in records if value}
    assert b"client:script-1" in keys
    restarted = CoordinationDetector(seed=3)
    for key, value in records:
        restarted.import_group(key.decode(), value)
    for key, value in first.export_links():  # the worker restores both tables
        restarted.import_link(key, value)
    # Accounts no link names join the restored groups: each is named by its first signal.
    late = [
        replaced(s, account_id=s.account_id.replace("hydra-", "joined-"))
        for s in _swarm(random.Random(8), n=12, start=T0 + 7200)
    ][:12]
    named = _run_open(restarted, late)
    assert named and named[0].ts == late[0].ts, "the first signal of a new member names it"
    named += restarted.flush(T0 + 7200 + 3600)
    assert {d.labels["campaign"] for d in named} == {subject}
    assert _named(named) == {f"joined-{i}" for i in range(12)}
    fresh = CoordinationDetector(seed=3)
    cold = _run_open(fresh, late)
    assert not cold or cold[0].ts >= late[4].ts, "cold, a group must fill and score first"
    restarted.export_groups()
    restarted.expire(T0 + 7200 + 2 * restarted.config.campaign_ttl_s)
    dropped = restarted.export_groups()
    assert dropped and all(value == b"" for _, value in dropped), "expired groups are tombstoned"


def test_new_accounts_on_one_template_and_one_client_stack_are_tied() -> None:
    """No harvest, no shared card, no spoofing: unrelated new accounts, one script, one stack."""
    rng = random.Random(23)
    keys = lambda i: (f"net:203.0.{i % 8}", f"pay:card-q{i}", "client:script-q")  # noqa: E731
    dets = _run(CoordinationDetector(seed=3), _background(rng) + _quiet(rng, keys))
    named = _named(dets)
    assert {f"quiet-{i}" for i in range(60)} <= named
    assert not any(a.startswith("user-") for a in named)
    assert dets[0].ts - (T0 + 3600) <= 15 * 60


def test_sign_ups_on_one_client_stack_asking_their_own_questions_are_a_crowd() -> None:
    rng = random.Random(23)
    keys = lambda i: (f"net:203.0.{i % 8}", f"pay:card-q{i}", "client:browser-q")  # noqa: E731
    own = _quiet(rng, keys, own_prompts=True)
    assert _run(CoordinationDetector(seed=3), _background(rng) + own) == []
    # Half the crowd established, on the template: not nearly all new.
    mixed = _quiet(rng, keys)
    for s in mixed:
        if int(s.account_id.rpartition("-")[2]) < 30:
            s.account_age_days = 400.0
    assert _run(CoordinationDetector(seed=3), _background(rng) + mixed) == []


def test_a_shared_card_ties_accounts_that_share_a_template() -> None:
    rng = random.Random(29)
    keys = lambda i: (f"net:10.99.{i}", "pay:card-shared", f"client:browser{i % 3}")  # noqa: E731
    named = _named(_run(CoordinationDetector(seed=3), _background(rng) + _quiet(rng, keys, 12)))
    assert {f"quiet-{i}" for i in range(12)} <= named


def test_a_family_card_alone_ties_nothing() -> None:
    """New accounts on one card trying the new model, each on its own network and prompts,
    on the popular browsers everyone uses."""
    rng = random.Random(29)
    keys = lambda i: (f"net:10.99.{i}", "pay:card-shared", f"client:browser{i % 3}")  # noqa: E731
    card = _quiet(
        rng, keys, 12, own_prompts=True, features={"new_model": 1.0, "rate_per_min": 0.05}
    )
    assert _run(CoordinationDetector(seed=3), _background(rng) + card) == []


def test_harvesting_in_unison_is_one_family_not_two() -> None:
    """Established users of one system prompt who all ask for reasoning: template and
    harvesting are two families, harvest content and harvest in unison one behaviour."""
    rng = random.Random(31)
    keys = lambda i: (f"net:10.98.{i}", f"pay:card-s{i}", "sys:shared-agent")  # noqa: E731
    users = [  # each at their own hours and pace
        _member(rng, f"quiet-{i}", T0 + 3600 + rng.uniform(0, 8 * 3600), keys(i),
                account_age_days=400.0, harvest=0.4, flags=FLAG_COT)
        for i, count in enumerate((1, 1, 1, 1, 2, 2, 3, 3)) for _ in range(count)
    ]  # fmt: skip
    assert _run(CoordinationDetector(seed=3), _background(rng) + users) == []


def test_new_accounts_that_ask_for_reasoning_on_one_app_are_no_campaign() -> None:
    """A stratum picked for being new and harvesting must share more than those traits:
    here each asks its own questions, at its own pace, from its own network and card, on
    one popular app whose other users are established."""
    rng = random.Random(37)
    keys = lambda i: (f"net:10.97.{i}", f"pay:card-r{i}", "client:app-7")  # noqa: E731
    users = []
    for i in range(120):
        new = i < 20  # a sixth new, asking for reasoning
        kw = {"account_age_days": 2.0, "harvest": 0.8, "flags": FLAG_COT} if new else {}
        for _ in range(rng.choice((1, 1, 2, 3))):
            users.append(
                _member(rng, f"app-{i}", T0 + 3600 + rng.uniform(0, 6 * 3600), keys(i),
                        org_id=f"org-a{i}", prompt_fp=rng.getrandbits(64),
                        **({"account_age_days": 500.0} | kw))
            )  # fmt: skip
    assert _run(CoordinationDetector(seed=3), _background(rng, 600) + users) == []


def _app_with_askers(
    rng: random.Random,
    own_prompts: bool = False,
    gap: float = 40.0,
    flags: int = FLAG_COT,
    new_model: float = 0.0,
    harvest: float = 0.0,
) -> list[AccountSignal]:
    """A popular app's established users, each at their own hours, a third asking for
    reasoning; and from the second hour 30 new accounts on it, one every ``gap`` seconds,
    that each send a request or two asking for it, from their own networks and cards,
    with little harvest evidence of their own (a flagged request, far below the harvest
    line; none without ``flags``; ``harvest`` over it): on the template unless
    ``own_prompts``, on the newly released model with ``new_model``."""
    keys = lambda i: (f"net:10.95.{i}", f"pay:card-p{i}", "client:app-9")  # noqa: E731
    users = [
        _member(rng, f"app-{i}", T0 + rng.uniform(0, 6 * 3600), keys(i),
                account_age_days=rng.uniform(60, 900), org_id=f"org-a{i}",
                prompt_fp=rng.getrandbits(64),
                features={"harvest_share": float(i % 3 == 0), "rate_per_min": 0.3})
        for i in range(90) for _ in range(rng.choice((1, 2, 3)))
    ]  # fmt: skip
    askers = [
        _member(rng, f"ask-{i}", T0 + 7200 + i * gap + k * 5400.0, keys(100 + i),
                org_id=f"org-k{i}",
                features={"harvest_share": 1.0, "rate_per_min": 0.05, "new_model": new_model},
                flags=flags, harvest=harvest,
                **({"prompt_fp": rng.getrandbits(64)} if own_prompts else {}))
        for i in range(30) for k in range(1 + i % 2)
    ]  # fmt: skip
    return _background(rng, 600) + users + askers


def test_new_light_askers_on_one_template_are_found_among_a_popular_apps_users() -> None:
    """Being new and asking, a stratum far beyond chance in a burst, sharing a template:
    found within 15 minutes on an app whose established users outnumber them three to
    one, without naming one of those."""
    det = CoordinationDetector(seed=3)
    dets = _run(det, _app_with_askers(random.Random(43)))
    named = _named(dets)
    assert len(named & {f"ask-{i}" for i in range(30)}) >= 25
    assert not any(a.startswith(("app-", "user-")) for a in named)
    assert dets[0].ts - (T0 + 7200) <= 15 * 60
    # The trace shows the stratum beside its group.
    (ids,) = [ids for key, ids, _, _ in det.explain() if key == "client:app-9 (new askers)"]
    assert ids and all(i.startswith("ask-") for i in ids)


def test_new_askers_on_their_own_prompts_or_over_the_day_or_without_evidence_are_a_crowd() -> None:
    """The same sign-ups each asking their own questions; or on one prompt (the day's
    popular one) but trickling in over the day, as a popular app's new users do; or new
    jobs asking for code on their template, whose answers carry no harvest evidence; or
    sign-ups harvesting openly, each on their own prompts."""
    own = _app_with_askers(random.Random(43), own_prompts=True)
    assert _run(CoordinationDetector(seed=3), own) == []
    trickle = _app_with_askers(random.Random(43), gap=1500.0)
    assert _run(CoordinationDetector(seed=3), trickle) == []
    jobs = _app_with_askers(random.Random(43), flags=0)
    assert _run(CoordinationDetector(seed=3), jobs) == []
    # Harvesting openly, each on their own prompts: only what chose them, nothing shared.
    loud = _app_with_askers(random.Random(43), own_prompts=True, harvest=0.8)
    assert _run(CoordinationDetector(seed=3), loud) == []


def test_new_askers_in_a_burst_on_a_newly_released_model_are_a_release_day_crowd() -> None:
    """Sign-ups trying the new model on its release day come in a burst and ask its
    popular prompts alike: new, asking and on one template is all they show."""
    release = _app_with_askers(random.Random(43), new_model=1.0)
    assert _run(CoordinationDetector(seed=3), release) == []


def test_new_askers_do_not_take_over_a_group_that_is_a_campaign_on_its_own() -> None:
    """Established accounts harvesting openly on the app's template, one every four minutes
    for three hours, beside the burst of new askers: the group is a campaign by its
    harvesters, and its new askers' stratum, which names new members only, does not
    replace that verdict. Both are named; were the askers' verdict taken, the harvesters
    coming after the burst would not be."""
    rng = random.Random(43)
    keys = lambda i: (f"net:10.93.{i}", f"pay:card-e{i}", "client:app-9")  # noqa: E731
    ring = [
        _member(rng, f"ring-{i}", T0 + 600 + i * 240.0 + k * 7.0, keys(i),
                account_age_days=rng.uniform(200, 900), org_id=f"org-e{i}", harvest=0.9,
                flags=FLAG_COT)
        for i in range(48) for k in range(2)
    ]  # fmt: skip
    named = _named(_run(CoordinationDetector(seed=3), _app_with_askers(rng) + ring))
    assert len(named & {f"ring-{i}" for i in range(48)}) >= 30
    assert len(named & {f"ask-{i}" for i in range(30)}) >= 25
    assert not any(a.startswith(("app-", "user-")) for a in named)


def _ring_beside_sign_ups(new_model: float, asking: bool = False) -> list[AccountSignal]:
    """A ring of 60 new accounts fed in turn on one SDK stack, on the template off the new
    model, harvesting; and from its second half hour 20 sign-ups on the same stack, each on
    a network, card and org of its own, new, on the template (the day's popular prompt near
    it) and over the harvest line, on the newly released model with ``new_model``.

    ``asking``: the ring's requests ask for code and tool use instead, with no harvest
    evidence of their own (a tool-use hydra), and the sign-ups ask for nothing and harvest
    nothing."""
    rng = random.Random(5)
    ring_kw: dict = {"harvest": 0.4, "flags": FLAG_COT}
    up_kw: dict = {"harvest": 0.5, "flags": FLAG_COT}
    if asking:
        ring_kw = {"features": {"harvest_share": 1.0, "rate_per_min": 0.05}}
        up_kw = {}
    ring = [
        _member(rng, f"hydra-{k % 60}", T0 + 3600 + k * 20.0,
                (f"net:203.0.{k % 8}", f"pay:card-h{k % 12}", "infra:sdk-go"),
                org_id=f"org-h{k % 60}", **ring_kw)
        for k in range(240)
    ]  # fmt: skip
    sign_ups = [
        _member(rng, f"signup-{i}", T0 + 5400 + i * 60.0 + k * 400.0,
                (f"net:10.90.{i}", f"pay:card-s{i}", "infra:sdk-go"),
                account_age_days=rng.uniform(0.0, 1.0), org_id=f"org-s{i}",
                features={"new_model": new_model, "rate_per_min": 0.05}, **up_kw)
        for i in range(20) for k in range(2)
    ]  # fmt: skip
    return _background(rng) + ring + sign_ups


def test_sign_ups_on_the_new_model_are_not_named_into_a_campaign_off_it() -> None:
    """A member on the newly released model does not fit a campaign that is not on it:
    new, on the template and harvesting, the sign-ups look like the ring in every check
    but the model they came for."""
    named = _named(_run(CoordinationDetector(seed=3), _ring_beside_sign_ups(1.0)))
    assert {f"hydra-{i}" for i in range(60)} <= named
    assert not any(a.startswith(("signup-", "user-")) for a in named)
    # Off the new model the same sign-ups fit the ring's profile.
    named = _named(_run(CoordinationDetector(seed=3), _ring_beside_sign_ups(0.0)))
    assert len({a for a in named if a.startswith("signup-")}) >= 15


def test_sign_ups_that_ask_for_nothing_are_not_named_into_a_ring_that_asks() -> None:
    """A ring whose every request asks for code or tool use, on proxy exits and shared
    cards: new sign-ups on its stack, near its template, asking for nothing, are new and on
    the template and nothing the ring's members do."""
    named = _named(_run(CoordinationDetector(seed=3), _ring_beside_sign_ups(0.0, asking=True)))
    assert len({a for a in named if a.startswith("hydra-")}) >= 54
    assert not any(a.startswith(("signup-", "user-")) for a in named)


def test_release_day_sign_ups_harvesting_on_the_new_model_are_a_crowd_among_an_apps_users() -> None:
    """The same sign-ups, each over the harvest line on its own: a stratum of suspects far
    beyond chance. Being new and harvesting chose them; the new model and its popular
    prompts are what a release day's crowd shares too."""
    release = _app_with_askers(random.Random(43), new_model=1.0, harvest=0.9)
    assert _run(CoordinationDetector(seed=3), release) == []
    # Off the new model the same sign-ups are found: their shared template is beyond what
    # chose them.
    named = _named(
        _run(CoordinationDetector(seed=3), _app_with_askers(random.Random(43), harvest=0.9))
    )
    assert len(named & {f"ask-{i}" for i in range(30)}) >= 25


def test_the_population_baselines_are_the_shares_they_name() -> None:
    # Accounts each on their own client (no group fires): a quarter new askers, a fifth
    # harvesting, a third asking now and then. The baselines are recomputed at the 257th.
    det = CoordinationDetector(seed=3)
    for i in range(300):
        new_asker = i % 4 == 0
        hv = 1.0 if new_asker else 0.5 if i % 3 == 0 else 0.0
        harvest = 0.9 if i % 5 == 0 else 0.05 if new_asker else 0.0
        det.observe(
            AccountSignal(account_id=f"p-{i}", ts=T0 + i, keys=(f"client:c{i}",),
                          account_age_days=2.0 if new_asker else 400.0, harvest=harvest,
                          features={"harvest_share": hv})
        )  # fmt: skip
    first = range(257)
    pop = det._pop
    assert pop.new_askers == pytest.approx(sum(i % 4 == 0 for i in first) / 257)
    assert pop.harvesting == pytest.approx(sum(i % 5 == 0 for i in first) / 257)
    asks = sum(1.0 if i % 4 == 0 else 0.5 if i % 3 == 0 else 0.0 for i in first)
    assert pop.harvest_share == pytest.approx(asks / 257)


def test_members_on_cards_shared_across_orgs_are_named_where_newness_alone_is_too_little() -> None:
    """New accounts of one scripted client, paying with a few cards each shared across orgs,
    asking their own questions: being new is a lone check, a shared card makes it two."""
    rng = random.Random(41)
    keys = lambda i: (f"net:10.96.{i}", f"pay:card-k{i % 8}", "client:script-k")  # noqa: E731
    ring = _quiet(rng, keys, 40, own_prompts=True)
    named = _named(_run(CoordinationDetector(seed=3), _background(rng) + ring))
    assert len({a for a in named if a.startswith("quiet-")}) >= 36
    assert not any(a.startswith("user-") for a in named)


def test_a_member_named_but_not_yet_reported_is_not_lost_to_a_restart() -> None:
    """A member's link is saved only once a detection lists it. A worker that crashes while
    named members wait for their part restarts without their links and names them again
    from their next signals; had the links been saved, they would be named in no finding."""
    rng = random.Random(7)
    signals = sorted(_background(rng) + _swarm(rng), key=lambda s: s.ts)
    first = CoordinationDetector(seed=3)
    dets: list[Detection] = []
    cut = 0
    while not (dets and any(c.pending for c in first._campaigns.values())):
        dets += first.observe(signals[cut])  # up to the first moment members wait for a part
        cut += 1
    waiting = {a for c in first._campaigns.values() for a in c.pending}
    assert waiting
    records = first.export_links()
    saved = {int.from_bytes(key, "big") for key, _ in records if len(key) == 8}
    assert saved == {seeded_hash(a, 3) for a in _named(dets)}, "reported members only"
    restarted = CoordinationDetector(seed=3)
    for key, value in records:
        restarted.import_link(key, value)
    again = _run(restarted, signals[cut:])
    assert waiting <= _named(again)
    assert _named(dets) | _named(again) == {f"hydra-{i}" for i in range(60)}


def test_forget_lets_go_of_the_groups_of_keys_another_worker_owns() -> None:
    rng = random.Random(7)
    det = CoordinationDetector(seed=3)
    _run(det, _background(rng) + _swarm(rng))
    det.export_groups()
    keys = set(det._groups)

    def lost(key: str) -> bool:
        return key.startswith("net:")

    groups, campaigns = det.forget(lost)
    assert groups == sum(map(lost, keys)) > 0
    assert not any(map(lost, det._groups)) and any(map(lost, keys))
    assert det.export_groups() == [], "their records are the new owner's: no tombstones"
    assert campaigns == 0 and det._campaigns, "a campaign with a group left here stays"
    groups, campaigns = det.forget(lambda key: True)
    assert det._groups == {} and det._campaigns == {} and campaigns >= 1


def test_a_member_asks_by_its_signals_share_or_else_by_its_requests_flags() -> None:
    # A worker of an earlier version sends signals without the share: the request's own
    # flags stand for it.
    det = CoordinationDetector()

    def asks(flags: int, **features: float) -> float:
        sig = AccountSignal("a", 1_770_000_000.0, ("net:1.2.3",), flags=flags, features=features)
        return det._obs(sig).hv

    assert asks(0, harvest_share=0.25) == 0.25
    assert asks(FLAG_COT, harvest_share=0.0) == 0.0
    assert asks(FLAG_COT) == 1.0
    assert asks(0) == 0.0


def test_a_group_named_by_its_stack_stops_naming_once_the_stack_is_not_all_new() -> None:
    # A client group that fired as a stack of new accounts names new askers by holding the
    # stack (``Profile.keyed``): a check that does not look at the member. Once a re-score
    # finds no campaign (its users established), that profile goes; another one stays, but
    # for naming the stack's batch (``Profile.made``).
    det = CoordinationDetector(CoordinationConfig())
    g = Group("client:x", "client", 1_770_000_000.0)
    for i in range(20):
        g.observe(
            Obs(
                h=i + 1, account_id=f"a{i}", ts=1_770_000_000.0 + 60 * i, age=400.0,
                harvest=0.0, fp=i + 7, org=100 + i, net=1000 + i, infra=2000 + i, client=5,
                pay=4000 + i, pivot=0.0, rate=0.1, risk=0.0, dc=0.0, mm=0.0, hv=1.0,
            ),
            64, 18,
        )  # fmt: skip
    g.subject = "campaign-x"
    g.profile = Profile(new=True, hv=0.5, keyed=True)
    det._score(g, 1_770_002_000.0, [])
    assert g.profile is None
    kept = Profile(new=True, cards=(4001,))
    g.profile = kept
    det._score(g, 1_770_002_000.0, [])
    assert g.profile == kept
    g.profile = Profile(new=True, harvest=0.15, made=1_770_000_500.0)
    det._score(g, 1_770_002_000.0, [])
    assert g.profile == Profile(new=True, harvest=0.15)


def _crew(
    rng: random.Random, name: str, n: int, start: float, hours: float, net: str, card: str
) -> list[AccountSignal]:
    """``n`` new accounts of one campaign on the scripted client, each signalling every
    twenty minutes for ``hours``, on their own proxy exits and cards."""
    out = []
    for k in range(int(hours * 3) * n):
        i = k % n
        keys = (f"net:{net}.{i % 8}", f"pay:{card}-{i % 12}", "client:script-1")
        ts = start + (k // n) * 1200.0 + i * 20.0
        out.append(
            _member(
                rng, f"{name}-{i}", ts, keys, org_id=f"org-{name}{i}", harvest=0.4, flags=FLAG_COT
            )
        )
    return out


def _subjects(dets: list[Detection], prefix: str) -> set[str]:
    return {d.subject for d in dets for a in d.accounts if a.startswith(prefix)}


def test_a_second_campaign_on_a_quiet_groups_stack_is_a_finding_of_its_own() -> None:
    # Campaign a runs all day on the scripted client, all of it named within the hour; four
    # hours in, campaign b starts on the same client from other exits and cards. The client
    # group has named nobody new for hours: b is a new wave, its own finding.
    rng = random.Random(11)
    first = _crew(rng, "crew-a", 40, T0 + 3600, 9, "203.0", "card-a")
    second = _crew(rng, "crew-b", 40, T0 + 5 * 3600, 5, "198.51", "card-b")
    dets = _run(CoordinationDetector(seed=3), _background(rng) + first + second)
    named = _named(dets)
    assert {f"crew-a-{i}" for i in range(40)} | {f"crew-b-{i}" for i in range(40)} <= named
    a, b = _subjects(dets, "crew-a-"), _subjects(dets, "crew-b-")
    assert len(a) == 1 and len(b) == 1 and a != b
    # Without waves the group names b into a's campaign as b's accounts arrive.
    merged = _run(
        CoordinationDetector(CoordinationConfig(wave_gap_s=1e12), seed=3),
        _background(random.Random(11)) + first + second,
    )
    assert _subjects(merged, "crew-a-") & _subjects(merged, "crew-b-")


def _quiet_crew(rng: random.Random) -> tuple[CoordinationDetector, str, Group, float]:
    """A detector whose client group named all of ``crew-a`` hours ago: its campaign, the
    group, and a time after the crew's last signal."""
    det = CoordinationDetector(seed=3)
    crew = _crew(rng, "crew-a", 40, T0 + 3600, 9, "203.0", "card-a")
    (subject,) = _subjects(_run_open(det, sorted(crew, key=lambda s: s.ts)), "crew-a-")
    g = det._groups["client:script-1"]
    late_ts = max(s.ts for s in crew) + 600
    assert late_ts - g.named_ts > det.config.wave_gap_s, "the group has gone quiet"
    return det, subject, g, late_ts


def _late(rng: random.Random, account_id: str, ts: float) -> AccountSignal:
    return _member(rng, account_id, ts, ("client:script-1",), harvest=0.4, flags=FLAG_COT)


def test_a_quiet_group_holds_a_lone_late_member_then_names_it_in_its_campaign() -> None:
    rng = random.Random(5)
    det, subject, g, late_ts = _quiet_crew(rng)
    gap = det.config.wave_gap_s
    det.observe(_late(rng, "late-1", late_ts))
    assert [m.account_id for m in g.late] == ["late-1"], "held, not named"
    assert "late-1" not in _named(det.due(late_ts + gap / 2)), "held while a batch may form"
    released = det.due(late_ts + gap + det.config.straggler_s + 1)
    assert [d.subject for d in released if "late-1" in d.accounts] == [subject]
    assert g.late == []
    # The end of a replay releases what is held at once.
    det.observe(_late(rng, "late-2", late_ts + 3 * gap))
    assert [m.account_id for m in g.late] == ["late-2"]
    assert "late-2" in _named(det.flush(late_ts + 3 * gap + 1))
    assert g.late == []


def test_late_members_another_campaign_named_make_no_wave_unless_they_fit() -> None:
    # Six established accounts another campaign holds join the quiet group; they do not fit
    # its profile, so they neither make a batch nor draw its lone late member into that
    # campaign: the group keeps its campaign and opens none of fewer than min_accounts.
    rng = random.Random(5)
    det, subject, g, late_ts = _quiet_crew(rng)
    det._campaigns["campaign-other"] = Campaign("campaign-other", late_ts)
    for i in range(6):
        det._members.link(seeded_hash(f"old-{i}", det.seed), "campaign-other")
        det.observe(
            AccountSignal(
                f"old-{i}",
                late_ts + i,
                ("client:script-1",),
                account_age_days=400.0,
                prompt_fp=rng.getrandbits(64),
            )  # fmt: skip
        )
    det.observe(_late(rng, "late-1", late_ts + 60))
    det._score(g, late_ts + 120, [])
    assert g.subject == subject
    assert [m.account_id for m in g.late] == ["late-1"]
    out = det.flush(late_ts + 7200)
    assert [d.subject for d in out if "late-1" in d.accounts] == [subject]
    assert set(det._campaigns) == {subject, "campaign-other"}


def test_a_group_record_keeps_when_it_last_named_a_member() -> None:
    rng = random.Random(2)
    det = CoordinationDetector(seed=3)
    _run(det, _swarm(rng, n=30))
    g = det._groups["client:script-1"]
    assert 0.0 < g.named_ts != g.last_ts
    record = orjson.loads(det.export_group("client:script-1") or b"")
    assert Group.from_dict(record).named_ts == g.named_ts
    del record["named_ts"]  # written before it: as if it named a member at its last signal
    assert Group.from_dict(record).named_ts == g.last_ts


def test_a_frameworks_light_users_in_tool_loops_are_not_tied_by_being_light() -> None:
    """Light, established askers on one stack's template, but each message of theirs runs a
    tool loop of several turns in one conversation, as an agent framework's users do: not
    tied by being light, nor named where a ring on their stack, whose request or two each
    opens a conversation of its own, ties it."""
    rng = random.Random(29)

    def user(name: str, i: int, single: float, at: float) -> AccountSignal:
        return _member(
            rng, name, T0 + 2 * 3600 + at, (f"infra:fw-{i % 4}", "client:fw", f"pay:card-{name}"),
            account_age_days=400.0, org_id=f"org-{name}", prompt_fp=_near(TEMPLATE, rng, 2),
            features={"rate_per_min": 0.05, "harvest_share": 1.0, "single_turn": single},
            harvest=0.05,
        )  # fmt: skip

    users = [user(f"fw-{i}", i, 0.2, 60.0 * i) for i in range(40)]
    det = CoordinationDetector(seed=3)
    assert not _named(_run(det, _background(rng) + users))
    (v,) = [v for key, _, _, v in det.explain() if key == "client:fw"]
    assert v.sparse < 0.0 and not v.campaign
    ring = [user(f"ring-{i}", i, 1.0, 120.0 * i) for i in range(30)]
    late = [user(f"fw-{i}", i, 0.2, 3600.0 + 60.0 * i) for i in range(10)]
    named = _named(_run(CoordinationDetector(seed=3), _background(rng) + ring + late))
    assert len({a for a in named if a.startswith("ring-")}) >= 25
    assert not any(a.startswith(("fw-", "user-")) for a in named)


def test_light_aged_askers_on_one_stack_are_a_campaign_of_their_own() -> None:
    """Established accounts on one SDK stack, each asking once on a template near an open
    campaign's, fed in turn: tied by being light together, named apart from that campaign
    (a template joins no campaign to another). Neither the stack's heavy users on the
    template, asking every ten minutes, nor its light jobs on it whose requests carry no
    harvest evidence (a code review every few hours) are named."""
    rng = random.Random(29)

    def user(name: str, i: int, ts: float, age: float, rate: float, **kw: object) -> AccountSignal:
        """Account ``name`` on the SDK stack, on the template, asking in every request."""
        return _member(
            rng, name, ts, (f"infra:sdk-b{i % 4}", "client:sdk-b", f"pay:card-{name}"),
            account_age_days=age, org_id=f"org-{name}", prompt_fp=_near(TEMPLATE, rng, 2),
            features={"rate_per_min": rate, "harvest_share": 1.0}, **kw,
        )  # fmt: skip

    t = T0 + 2 * 3600
    aged = [user(f"aged-{i}", i, t + 60.0 * i, 400.0, 0.05, harvest=0.05) for i in range(40)]
    jobs = [user(f"job-{i}", i, t + 60.0 * i + 30.0, 600.0, 0.05) for i in range(0, 40, 8)]
    heavy = [
        user(f"heavy-{i}", i, t + 600.0 * k + i, 500.0, 0.5, harvest=0.05)
        for i in range(3)
        for k in range(6)
    ]
    dets = _run(CoordinationDetector(seed=3), _background(rng) + _swarm(rng) + aged + jobs + heavy)
    subject = {a: d.subject for d in dets for a in d.accounts}
    named_aged = {a for a in subject if a.startswith("aged-")}
    assert len(named_aged) >= 30
    assert {subject[a] for a in named_aged}.isdisjoint(
        {subject[a] for a in subject if a.startswith("hydra-")}
    )
    assert not any(a.startswith(("heavy-", "job-", "user-")) for a in subject)
