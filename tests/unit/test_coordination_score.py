"""An early verdict (a group that has not fired) stops once no anchor or tie can hold; it
must reach the same outcome as the full verdict, and be the full verdict when it goes on."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any

import pytest

from app.core.coordination_config import CoordinationConfig
from app.core.coordination_group import Group, Obs, Profile
from app.core.coordination_score import (
    ASK_CONTENT,
    ASK_SHARE,
    SPARSE_ASK,
    Population,
    _held_apart,
    _shared,
    _shared_values,
    beyond_chance,
    matches,
    score_group,
)

TEMPLATE = 0x5DEECE66D1234567
KINDS = ("net", "infra", "client", "pay", "sys")


def test_values_held_apart_are_those_of_more_than_one_org() -> None:
    # Cards or networks that members of different orgs hold (members without an org count
    # as one), the share of known values they make up, and a profile's cards from them.
    rng = random.Random(6)
    for _ in range(2000):
        n = rng.randrange(12)
        values = [float(rng.choice((0, 0, 3, 5, 8, 2**40 + 1))) for _ in range(n)]
        orgs = [float(rng.choice((0, 0, 7, 9))) for _ in range(n)]
        held: dict[float, set[float]] = {}
        for v, o in zip(values, orgs, strict=True):
            if v:
                held.setdefault(v, set()).add(o or -1.0)
        apart = {v for v, who in held.items() if len(who) > 1}
        known = [v for v in values if v]
        share = sum(v in apart for v in known) / len(known) if apart else 0.0
        assert _held_apart(values, orgs) == apart
        assert _shared(values, orgs) == _shared(values, orgs, apart) == share
        assert _shared_values(apart) == tuple(sorted(int(v) for v in apart))


def _group(rng: random.Random, kind: str) -> Group:
    """A group of 5 to 40 accounts, each trait shared by a random part of them."""
    g = Group(f"{kind}:x", kind, 1_770_000_000.0)
    # The anchors (harvest, shared cards, spoofed clients) held by none half the time.
    new, templated = rng.random(), rng.random()
    harvest, cards, spoof, asking = (rng.random() if rng.random() < 0.5 else 0.0 for _ in range(4))
    orgs = rng.choice((1, 3, 40))
    for i in range(rng.randint(5, 40)):
        on_tpl = rng.random() < templated
        fp = TEMPLATE ^ (1 << rng.randrange(64)) if on_tpl else rng.getrandbits(64)
        o = Obs(
            h=rng.getrandbits(64), account_id=f"a{i}", ts=1_770_000_000.0 + 60 * i,
            age=rng.uniform(0, 5) if rng.random() < new else rng.uniform(40, 900),
            harvest=rng.uniform(0.2, 0.9) if rng.random() < harvest else 0.0, fp=fp,
            org=1 + rng.randrange(orgs), net=rng.choice((0, 7, 8, rng.getrandbits(31))),
            infra=rng.choice((0, 9, rng.getrandbits(31))), client=rng.choice((5, 6)),
            pay=rng.choice((11, 12)) if rng.random() < cards else rng.getrandbits(31),
            pivot=rng.random(), rate=rng.uniform(0, 1), risk=rng.random(), dc=rng.random(),
            mm=1.0 if rng.random() < spoof else 0.0, hv=1.0 if rng.random() < asking else 0.0,
        )  # fmt: skip
        for _ in range(rng.randint(1, 3)):
            g.observe(o, 64, 18)
    return g


@pytest.mark.parametrize("seed", range(4))
def test_an_early_verdict_reaches_the_full_verdicts_outcome(seed: int) -> None:
    rng = random.Random(seed)
    stopped = went_on = 0
    for _ in range(1500):
        cfg = CoordinationConfig()
        if rng.random() < 0.3:
            cfg = dataclasses.replace(
                cfg,
                tied_new_excess=rng.uniform(0.2, 0.9),
                tied_template_share=rng.uniform(0.2, 0.9),
                tied_net_share=rng.uniform(0.1, 0.9),
            )
        pop = Population(new=rng.uniform(0.01, 0.3), mm=rng.uniform(0, 0.2))
        g = _group(rng, rng.choice(KINDS))
        early, full = score_group(g, pop, cfg, early=True), score_group(g, pop, cfg)
        assert early.campaign == full.campaign
        if early.evidence:  # it went on: the full verdict
            went_on += 1
            assert (early.score, early.strengths, early.blocked, early.profile) == (
                full.score, full.strengths, full.blocked, full.profile,
            )  # fmt: skip
        else:
            stopped += 1
            assert early.blocked == "no_anchor" and not full.campaign
    assert stopped > 100 and went_on > 100, (stopped, went_on)


def _crowd_on_a_framework(kind: str, cards: bool) -> Group:
    """New accounts of many orgs that harvest on one template, each on its own network."""
    g = Group(f"{kind}:x", kind, 1_770_000_000.0)
    for i in range(20):
        o = Obs(
            h=i + 1, account_id=f"a{i}", ts=1_770_000_000.0 + 60 * i, age=2.0, harvest=0.6,
            fp=TEMPLATE ^ (1 << (i % 64)), org=100 + i, net=1000 + i, infra=2000 + i,
            client=3000 + i, pay=(11 if i % 2 else 12) if cards else 4000 + i, pivot=0.0,
            rate=0.1, risk=0.0, dc=0.0, mm=0.0,
        )  # fmt: skip
        g.observe(o, 64, 18)
        g.observe(o, 64, 18)
    return g


def test_a_shared_template_is_no_evidence_in_a_system_prompt_group() -> None:
    # A framework that sets one system prompt also wraps its users' prompts alike: new users
    # of a new coding tool share both, and ask for long answers. In a `sys` group the
    # template does not count; elsewhere it does (a sign-up cohort's group implies newness,
    # so there the template is one of the two explicit families it needs).
    cfg, pop = CoordinationConfig(), Population()
    crowd = score_group(_crowd_on_a_framework("sys", cards=False), pop, cfg)
    assert crowd.strengths["shared_template"] >= 0.5 and crowd.strengths["new_accounts"] >= 0.5
    assert not crowd.campaign and crowd.blocked == "no_conjunction"
    assert crowd.profile.centres  # still measured, for the profile
    # With shared cards as well, three families hold without the template.
    assert score_group(_crowd_on_a_framework("sys", cards=True), pop, cfg).campaign
    assert score_group(_crowd_on_a_framework("cohort", cards=False), pop, cfg).campaign


def _net_group(n: int, **per_member: Callable[[int], float]) -> Group:
    """``n`` established accounts of different orgs on one /24, one signal each: member
    ``i`` has each attribute in ``per_member`` at ``f(i)``, quiet defaults otherwise."""
    g = Group("net:x", "net", 1_770_000_000.0)
    for i in range(n):
        fields: dict[str, Any] = {
            "h": i + 1, "account_id": f"a{i}", "ts": 1_770_000_000.0 + i, "age": 400.0,
            "harvest": 0.0, "fp": 0, "org": 100 + i, "net": 7, "infra": 0, "client": 0,
            "pay": 0, "pivot": 0.0, "rate": 0.1, "risk": 0.0, "dc": 0.0, "mm": 0.0,
        }  # fmt: skip
        fields.update({name: f(i) for name, f in per_member.items()})
        g.observe(Obs(**fields), 64, 18)
    return g


def test_a_card_two_accounts_share_is_not_a_shared_payment_family() -> None:
    # Two accounts of different orgs on one card are a family or a team; three or more
    # members on cards other orgs share are a ring's.
    cfg, pop = CoordinationConfig(), Population()

    def payment(on_shared: int) -> float:
        g = _net_group(5, pay=lambda i: 11 if i < on_shared else 20 + i)
        return score_group(g, pop, cfg).strengths["shared_payment"]

    assert payment(2) == 0.0
    assert payment(3) == 1.0


def test_one_loud_account_is_not_a_groups_harvest_content() -> None:
    # A scraper in a small group of quiet accounts raises the mean harvest on its own; a
    # campaign's harvest is spread over its accounts.
    cfg, pop = CoordinationConfig(), Population()

    def content(harvesting: int) -> float:
        g = _net_group(8, harvest=lambda i: 1.0 if i < harvesting else 0.0)
        return score_group(g, pop, cfg).strengths["harvest_content"]

    assert content(1) == 0.0
    assert content(2) == 1.0


def _light_accounts(
    asking: int,
    carded: int,
    age: float = 0.5,
    n: int = 20,
    harvest: tuple[float, ...] = (),
    template: bool = False,
    old: int = 0,
    rate: float = 0.1,
) -> Group:
    """One-request accounts of many orgs on one client stack, each on its own network:
    ``asking`` of them ask for reasoning (on one template with ``template``), ``carded``
    pay with cards two of them share; member ``i`` harvests ``harvest[i]`` (else 0); the
    last ``old`` members are established whatever ``age`` says; each at ``rate`` requests
    a minute."""
    g = Group("client:x", "client", 1_770_000_000.0)
    rng = random.Random(5)
    for i in range(n):
        on_tpl = template and i < asking
        o = Obs(
            h=i + 1, account_id=f"a{i}", ts=1_770_000_000.0 + 60 * i,
            age=400.0 if i >= n - old else age,
            harvest=harvest[i] if i < len(harvest) else 0.0,
            fp=TEMPLATE ^ (1 << rng.randrange(64)) if on_tpl else rng.getrandbits(64),
            org=100 + i, net=1000 + i, infra=2000 + i, client=5,
            pay=11 + i // 2 if i < carded else 4000 + i, pivot=0.0, rate=rate, risk=0.0,
            dc=0.0, mm=0.0, hv=1.0 if i < asking else 0.0,
        )  # fmt: skip
        g.observe(o, 64, 18)
    return g


def test_requests_asking_for_reasoning_pool_over_light_accounts() -> None:
    # Twenty new accounts of a request each, too light for any to show harvesting, 16 of
    # them asking for reasoning where one request in ten does: with a few of them on
    # shared cards, a campaign (shared payment alone is too weak to anchor it).
    cfg, pop = CoordinationConfig(), Population(harvest_share=0.1)
    v = score_group(_light_accounts(16, carded=4), pop, cfg)
    assert v.campaign, v.blocked
    assert v.strengths["harvest_requests"] == 1.0 and v.strengths["harvest_content"] == 0.0
    assert v.strengths["shared_payment"] < 0.5
    assert v.profile.hv == ASK_SHARE and v.profile.cards == (11, 12)
    # The users of one agent framework ask alike: established accounts, or new ones among
    # the established users of their client not paying with shared cards, are no campaign
    # for it (a client nearly all of whose users are new is, below).
    assert score_group(_light_accounts(16, carded=4, age=400.0), pop, cfg).blocked == "no_anchor"
    mixed = _light_accounts(16, carded=0, old=8)
    assert score_group(mixed, pop, cfg).blocked == "no_anchor"
    # Asking about as often as the population, or too few asking, is no evidence.
    assert score_group(_light_accounts(3, carded=4), pop, cfg).strengths["harvest_requests"] == 0
    few = score_group(_light_accounts(4, carded=4, n=5), pop, cfg)
    assert few.strengths["harvest_requests"] == 0.0
    assert (
        score_group(_light_accounts(5, carded=4, n=5), pop, cfg).strengths["harvest_requests"] == 1
    )


def test_asks_anchor_a_client_stack_nearly_all_of_whose_users_are_new() -> None:
    # New accounts of a request each on one client stack, nearly all of its users, asking
    # for reasoning, each on a card of its own and a network of its own: one script's
    # accounts. They are named by being new, asking and on the stack; an established user
    # of it, or a new one not asking, is not.
    cfg, pop = CoordinationConfig(), Population(harvest_share=0.1, new=0.15)
    v = score_group(_light_accounts(16, carded=0, old=1), pop, cfg)
    assert v.campaign, v.blocked
    assert v.strengths["new_accounts"] == 1.0 and v.strengths["shared_payment"] == 0.0
    assert v.profile.keyed and v.profile.hv == ASK_SHARE and v.profile.cards == ()
    assert v.profile.new and v.profile.centres == () and v.profile.made < 0.0
    young = v.profile.young

    def member(age: float, hv: float) -> Obs:
        return Obs(
            h=99, account_id="m", ts=1_770_000_000.0, age=age, harvest=0.0, fp=1, org=7,
            net=8, infra=9, client=5, pay=10, pivot=0.0, rate=0.1, risk=0.0, dc=0.0, mm=0.0,
            hv=hv,
        )  # fmt: skip

    assert matches(v.profile, member(0.5, 1.0), cfg)
    assert not matches(v.profile, member(400.0, 1.0), cfg)
    assert not matches(v.profile, member(0.5, 0.0), cfg)
    assert young >= 0.0 and not matches(v.profile, member(young + 1.0, 1.0), cfg)
    # A record written before the field restores without it; with it, as it was.
    assert Profile.from_list(v.profile.to_list()) == v.profile
    assert not Profile.from_list(v.profile.to_list()[:8]).keyed
    # Half of the stack's users established: a mix of new and old, no anchor; a network
    # or ``infra`` group of the same accounts is not keyed by one script's stack.
    assert score_group(_light_accounts(16, carded=0, old=8), pop, cfg).blocked == "no_anchor"
    client = _light_accounts(16, carded=0, old=1)
    for kind in ("infra", "net"):
        assert score_group(_rekeyed(client, kind), pop, cfg).blocked == "no_anchor"
    # A group's suspect stratum was chosen for being new: its newness is no anchor.
    assert score_group(client, pop, cfg, stratum=True).blocked == "no_anchor"


def _rekeyed(group: Group, kind: str) -> Group:
    """The same members in a group of another key kind."""
    other = Group(f"{kind}:x", kind, 0.0)
    for row in range(group.size()):
        other.observe(group.member(row), 64, 18)
    return other


def test_a_templates_frame_held_by_new_light_askers_anchors_by_asks() -> None:
    # A hydra's template filled with a different task by each of its one-request accounts:
    # the prompts' opening words are one key (``frame``) whose holders are nearly all new
    # and ask, as on a client stack of new accounts. The users of a popular opening are
    # old and new alike; heavy new users of one are no ring of light accounts.
    cfg, pop = CoordinationConfig(), Population(harvest_share=0.1, new=0.15, rate=0.2)
    frame = _rekeyed(_light_accounts(16, carded=0, old=1), "frame")
    v = score_group(frame, pop, cfg)
    assert v.campaign, v.blocked
    assert v.profile.keyed and v.profile.hv == ASK_SHARE
    assert v.strengths["shared_template"] == 1.0  # by its key, so not among the evidence
    # the key holds the client stack too: sharing it is no evidence of shared infrastructure
    assert v.strengths["shared_infra"] == 0.0
    mixed = _rekeyed(_light_accounts(16, carded=0, old=8), "frame")
    assert score_group(mixed, pop, cfg).blocked == "no_anchor"
    heavy = _rekeyed(_light_accounts(16, carded=0, old=1, rate=2.0), "frame")
    assert score_group(heavy, pop, cfg).blocked == "no_anchor"


def _harvesters_on_one_network(harvest: float) -> Group:
    """Sixteen established accounts of as many orgs on one template's frame and one /24:
    eight harvesting ``harvest``, eight not at all."""
    g = Group("frame:x", "frame", 1_770_000_000.0)
    for i in range(16):
        o = Obs(
            h=i + 1, account_id=f"a{i}", ts=1_770_000_000.0 + 60 * i, age=400.0,
            harvest=harvest if i < 8 else 0.0, fp=TEMPLATE, org=100 + i,
            net=7, infra=2000 + i, client=5, pay=4000 + i, pivot=0.0,
            rate=0.1, risk=0.0, dc=0.0, mm=0.0, hv=1.0 if i < 8 else 0.0,
        )  # fmt: skip
        g.observe(o, 64, 18)
    return g


def test_a_campaign_named_by_harvest_alone_names_those_that_harvest_like_its_members() -> None:
    # Accounts harvesting heavily, whose only trait a member can show on its own is its
    # harvest: a user of their frame whose long answers and a reasoning request lift it
    # clearly over the population's line is still far from them.
    cfg, pop = CoordinationConfig(), Population(harvest_share=0.1)
    line = pop.harvest_median + cfg.harvest_member

    def member(harvest: float) -> Obs:
        return Obs(
            h=99, account_id="m", ts=1_770_010_000.0, age=400.0, harvest=harvest, fp=TEMPLATE,
            org=7, net=8, infra=9, client=5, pay=10, pivot=0.0, rate=0.1, risk=0.0, dc=0.0,
            mm=0.0, hv=1.0,
        )  # fmt: skip

    v = score_group(_harvesters_on_one_network(0.9), pop, cfg)
    assert v.campaign, v.blocked
    assert v.profile.harvest_only() and v.profile.harvest == pytest.approx(0.45)
    assert not matches(v.profile, member(line + cfg.harvest_member + 0.05), cfg, line=line)
    assert matches(v.profile, member(0.7), cfg, line=line)
    # Members that harvest little themselves: the population's line holds.
    v = score_group(_harvesters_on_one_network(0.3), pop, cfg)
    assert v.campaign, v.blocked
    assert v.profile.harvest == line
    assert matches(v.profile, member(line + cfg.harvest_member), cfg, line=line)
    # Another check beside harvest (new members): the line holds too.
    assert not Profile(new=True, harvest=0.45).harvest_only()


def test_a_new_clients_heavy_users_are_no_ring_of_new_accounts() -> None:
    # A newly launched coding client: nearly all of its users are new and ask for code,
    # as a ring's accounts do, but each uses it at ten times the population's median rate.
    # A ring's accounts each send a request or two; early adopters of a tool use it.
    cfg, pop = CoordinationConfig(), Population(harvest_share=0.1, new=0.15, rate=0.2)
    assert score_group(_light_accounts(16, carded=0, old=1, rate=0.3), pop, cfg).campaign
    heavy = score_group(_light_accounts(16, carded=0, old=1, rate=2.0), pop, cfg)
    assert heavy.blocked == "no_anchor" and heavy.strengths["new_accounts"] == 1.0


def test_a_stack_of_new_askers_anchored_by_harvest_still_names_its_batch() -> None:
    # The client stack of new accounts that ask, as above, where a few members harvest
    # enough on their own for harvest content to anchor the group: its profile asks each
    # member to harvest clearly, which a one-request account does not show. The stack names
    # the others too: new, within the cohort, asking, harvesting over the population's line
    # and made before the group fired.
    cfg, pop = CoordinationConfig(), Population(harvest_share=0.1, new=0.15)
    g = _light_accounts(16, carded=0, old=1, harvest=(0.5,) * 6)
    v = score_group(g, pop, cfg)
    assert v.campaign, v.blocked
    assert v.strengths["harvest_content"] >= 0.5 and v.profile.harvest >= 0.0
    assert v.profile.hv < 0.0 and not v.profile.keyed and v.profile.made == g.last_ts
    assert v.profile.without(harvest=True).made == v.profile.made
    made, young = v.profile.made, v.profile.young
    line = pop.harvest_median + cfg.harvest_member

    def member(age: float, hv: float, ts: float = made, harvest: float = line) -> Obs:
        return Obs(
            h=99, account_id="m", ts=ts, age=age, harvest=harvest, fp=1, org=7, net=8,
            infra=9, client=5, pay=10, pivot=0.0, rate=0.1, risk=0.0, dc=0.0, mm=0.0, hv=hv,
        )  # fmt: skip

    def named(o: Obs) -> bool:
        return matches(v.profile, o, cfg, line=line)

    assert line < v.profile.harvest + cfg.harvest_member  # not clear harvesting
    assert named(member(0.5, 1.0))
    assert named(member(0.5, 1.0, ts=made + 3600.0))  # made before the group fired
    assert not named(member(0.5, 0.0))
    assert not named(member(0.5, 1.0, harvest=line - 0.01))
    assert not named(member(400.0, 1.0))
    assert young >= 0.0 and not named(member(young + 1.0, 1.0))
    # Made after the group fired: a sign-up since, not one of the batch.
    assert not named(member(0.5, 1.0, ts=made + 86400.0))
    # Once fired, the bound is the firing time, whenever the group is scored again.
    g.fired_ts = made - 3600.0
    assert score_group(g, pop, cfg).profile.made == g.fired_ts
    # The record keeps the bound; one written before it has none.
    assert Profile.from_list(v.profile.to_list()) == v.profile
    assert Profile.from_list(v.profile.to_list()[:9]).made < 0.0
    # The same accounts on a network: no stack, named by harvest only.
    other = Group("infra:x", "infra", 0.0)
    for row in range(g.size()):
        other.observe(g.member(row), 64, 18)
    w = score_group(other, pop, cfg)
    assert w.campaign and w.profile.made < 0.0 and not w.profile.keyed
    assert not matches(w.profile, member(0.5, 1.0), cfg, line=line)


def test_asks_anchor_established_accounts_whose_own_harvest_leans_the_same_way() -> None:
    # Established accounts that harvest among their own traffic through one client: most of
    # their requests there ask for reasoning, and their own harvest measures are above the
    # population's, if not far enough for harvest content to anchor the group alone.
    cfg, pop = CoordinationConfig(), Population(harvest_share=0.1)
    leaning = (0.15,) * 16
    g = _light_accounts(16, carded=0, age=400.0, harvest=leaning, template=True)
    v = score_group(g, pop, cfg)
    assert v.campaign, v.blocked
    assert ASK_CONTENT <= v.strengths["harvest_content"] < 0.5
    # Named by asking and harvesting (``matches``' lone check), not by a card or a template.
    assert v.profile.hv == ASK_SHARE and v.profile.harvest < 0.0
    assert v.profile.cards == () and v.profile.centres == () and not v.profile.new
    line = pop.harvest_median + cfg.harvest_member

    def member(hv: float, harvest: float) -> Obs:
        return Obs(
            h=99, account_id="m", ts=1_770_000_000.0, age=400.0, harvest=harvest, fp=1,
            org=7, net=8, infra=9, client=5, pay=10, pivot=0.0, rate=0.1, risk=0.0, dc=0.0,
            mm=0.0, hv=hv,
        )  # fmt: skip

    assert matches(v.profile, member(1.0, 0.15), cfg, line=line)
    assert not matches(v.profile, member(1.0, 0.1), cfg, line=line)
    assert not matches(v.profile, member(0.2, 0.15), cfg, line=line)
    # Without a template the asks and the harvest are one behaviour: no conjunction.
    bare = score_group(_light_accounts(16, carded=0, age=400.0, harvest=leaning), pop, cfg)
    assert bare.blocked == "no_conjunction"
    # Harvest content too weak to lean (a few loud members), or none: no anchor.
    loud = (0.3,) * 4
    for harvest in (loud, ()):
        g = _light_accounts(16, carded=0, age=400.0, harvest=harvest, template=True)
        w = score_group(g, pop, cfg)
        assert w.blocked == "no_anchor" and w.strengths["harvest_content"] < ASK_CONTENT


def _aged_askers(
    spacing_s: float,
    every_s: float = 0.0,
    tpl_every: int = 1,
    others: int = 4,
    harvest: float = 0.05,
    scripts: int = 0,
) -> Group:
    """An ``infra`` group of established accounts of many orgs and cards joining
    ``spacing_s`` apart: 16 asking for reasoning, every ``tpl_every``-th of them on one
    template (0: none), with ``harvest`` evidence of their own (a request or two that look
    like harvesting), then ``others`` that do not ask; with ``every_s`` each signals again
    that often until the last has joined. Beside them, ``scripts`` heavier askers on the
    template without harvest evidence, each signalling three times twenty minutes apart."""
    g = Group("infra:x", "infra", 1_770_000_000.0)
    rng = random.Random(7)
    n = 16 + others
    end = 1_770_000_000.0 + (n - 1) * spacing_s
    order = random.Random(3).sample(range(n), n) if others > 4 else range(n)
    for j, i in enumerate(order):  # askers and others interleaved when many
        on = i < 16 and tpl_every and i % tpl_every == 0
        o = Obs(
            h=i + 1, account_id=f"a{i}", ts=1_770_000_000.0 + spacing_s * j, age=400.0,
            harvest=harvest if i < 16 else 0.0,
            fp=TEMPLATE ^ (1 << rng.randrange(64)) if on else rng.getrandbits(64),
            org=100 + i, net=1000 + i, infra=9, client=5, pay=4000 + i, pivot=0.0, rate=0.1,
            risk=0.0, dc=0.0, mm=0.0, hv=1.0 if i < 16 else 0.0,
        )  # fmt: skip
        g.observe(o, 64, 18)
        if every_s:
            ts = o.ts + every_s
            while ts <= end:
                o.ts = ts
                g.observe(o, 64, 18)
                ts += every_s
    for i in range(scripts):
        for k in range(3):
            o = Obs(
                h=100 + i, account_id=f"s{i}", ts=1_770_000_000.0 + 1200.0 * k + i, age=700.0,
                harvest=0.0, fp=TEMPLATE ^ (1 << rng.randrange(64)), org=300 + i,
                net=3000 + i, infra=9, client=5, pay=5000 + i, pivot=0.0, rate=0.1,
                risk=0.0, dc=0.0, mm=0.0, hv=1.0,
            )  # fmt: skip
            g.observe(o, 64, 18)
    return g


def test_a_stratum_is_not_tied_by_its_light_askers() -> None:
    # A stratum is chosen for asking or harvesting (new askers, suspects): its members
    # asking together, light, is what chose them, not a tie.
    cfg, pop = CoordinationConfig(), Population(harvest_share=0.1)
    g = _aged_askers(spacing_s=180.0)
    assert score_group(g, pop, cfg).campaign
    v = score_group(g, pop, cfg, stratum=True)
    assert not v.campaign and v.sparse == -1.0 and v.blocked == "no_anchor"


def test_light_accounts_asking_on_one_template_tie_a_shared_network() -> None:
    # Established accounts behind one network and client stack, each sending a request and
    # going quiet while the next takes its turn, nearly all asking for reasoning on one
    # template: bought or aged accounts fed round-robin. Neither new nor harvesting as a
    # group, they are tied by being light together; each is named by asking in every
    # request, on the template.
    cfg, pop = CoordinationConfig(), Population(harvest_share=0.1)
    g = _aged_askers(spacing_s=180.0)
    v = score_group(g, pop, cfg)
    assert v.campaign, v.blocked
    assert v.strengths["new_accounts"] == 0.0 and v.strengths["harvest_content"] == 0.0
    assert v.profile.hv == SPARSE_ASK and v.profile.centres and not v.profile.new
    assert ("light_askers_share", 1.0) in [(e.name, e.value) for e in v.evidence]
    assert score_group(g, pop, cfg, early=True).campaign

    def member(fp: int, hv: float) -> Obs:
        return Obs(
            h=99, account_id="m", ts=g.last_ts, age=400.0, harvest=0.0, fp=fp, org=7, net=8,
            infra=9, client=5, pay=10, pivot=0.0, rate=0.1, risk=0.0, dc=0.0, mm=0.0, hv=hv,
        )  # fmt: skip

    assert matches(v.profile, member(TEMPLATE ^ 3, 1.0), cfg)
    assert not matches(v.profile, member(TEMPLATE ^ 3, 0.5), cfg)  # asks now and then
    assert not matches(v.profile, member(TEMPLATE ^ (2**40 - 1), 1.0), cfg)
    # The template is the askers': users of the stack who do not ask dilute the group's
    # (16 of 30 prompts, under ``tied_template_share``) but not theirs.
    crowded = score_group(_aged_askers(spacing_s=120.0, others=14), pop, cfg)
    assert crowded.values is not None
    assert crowded.values["shared_template"][0] < cfg.tied_template_share
    assert crowded.campaign and crowded.sparse == 1.0
    # The same accounts signalling every twenty minutes (a pipeline's runs, people in
    # sessions), joined too recently to tell, or asking off any one template (half of them
    # on it): no anchor.
    assert score_group(_aged_askers(180.0, every_s=1200.0), pop, cfg).blocked == "no_anchor"
    assert score_group(_aged_askers(60.0), pop, cfg).blocked == "no_anchor"
    assert score_group(_aged_askers(180.0, tpl_every=0), pop, cfg).blocked == "no_anchor"
    assert score_group(_aged_askers(180.0, tpl_every=2), pop, cfg).blocked == "no_anchor"
    # Jobs of many orgs on one template that run every few hours, asking for code reviews
    # whose requests carry no harvest evidence of their own (answers of ordinary length):
    # as light as the ring, and no anchor.
    assert score_group(_aged_askers(180.0, harvest=0.0), pop, cfg).blocked == "no_anchor"
    # Heavier askers on the template count against the light ones whatever they carry:
    # eight scripts of the stack's customers asking every twenty minutes, with no harvest
    # evidence, leave the ring's sixteen two thirds of the template's askers.
    assert score_group(_aged_askers(180.0, scripts=8), pop, cfg).blocked == "no_anchor"
    # An early verdict (a group not fired yet) reaches the full verdict's outcome in each.
    for group in (
        g,
        _aged_askers(120.0, others=14),
        _aged_askers(180.0, every_s=1200.0),
        _aged_askers(60.0),
        _aged_askers(180.0, tpl_every=2),
        _aged_askers(180.0, harvest=0.0),
        _aged_askers(180.0, scripts=8),
    ):
        full, early = score_group(group, pop, cfg), score_group(group, pop, cfg, early=True)
        assert (early.campaign, early.sparse) == (full.campaign, full.sparse)
    # A job that runs once a day is as light as the ring on its first day, not after: a
    # member sends two signals here at most, however long it stays.
    daily = _aged_askers(180.0)
    for day in (1, 2):
        for row in range(daily.size()):
            o = daily.member(row)
            o.ts += day * 86400.0
            daily.observe(o, 64, 18)
    assert score_group(daily, pop, cfg).blocked == "no_anchor"


def test_a_stratum_is_beyond_chance_by_the_share_a_population_sample_can_resolve() -> None:
    cfg = CoordinationConfig()
    # Five suspects among a popular client's 364 users: where the sample holds none, the
    # share is taken as one in population_k (0.7 expected here), and five is chance.
    assert not beyond_chance(5.0, 364.0, 0.0, cfg)
    assert beyond_chance(6.0, 40.0, 0.0, cfg)  # a small group: 0.08 expected
    floor = 3.0 * 364.0 / cfg.population_k + cfg.min_accounts
    assert beyond_chance(floor, 364.0, 0.0, cfg) and not beyond_chance(floor - 0.1, 364.0, 0.0, cfg)
    # A share the sample resolves counts as measured.
    assert not beyond_chance(20.0, 364.0, 0.02, cfg)  # 7.3 expected: 26.8 needed
    assert beyond_chance(27.0, 364.0, 0.02, cfg)


def test_a_mismatch_shared_by_one_client_stack_is_the_stacks_not_evidence() -> None:
    # Users of many orgs on one browser user agent behind one TLS-intercepting proxy stack,
    # a third of them flagged as mismatched: in a group of that stack it says nothing of
    # them, nor in a group of a template's frame on it (its key holds the stack); in a
    # network group, members spoofing their clients alike are automation.
    cfg, pop = CoordinationConfig(), Population()
    for kind, counts in (("client", False), ("infra", False), ("frame", False), ("net", True)):
        g = Group(f"{kind}:x", kind, 1_770_000_000.0)
        rng = random.Random(9)
        for i in range(12):
            o = Obs(
                h=i + 1, account_id=f"a{i}", ts=1_770_000_000.0 + 60 * i, age=400.0,
                harvest=0.0, fp=rng.getrandbits(64), org=100 + i, net=7, infra=8, client=5,
                pay=4000 + i, pivot=0.0, rate=0.1, risk=0.0, dc=0.0,
                mm=1.0 if i % 3 == 0 else 0.0, hv=0.0,
            )  # fmt: skip
            g.observe(o, 64, 18)
        v = score_group(g, pop, cfg)
        assert (v.strengths["automation"] >= 0.5) == counts, kind
        if not counts:
            assert v.strengths["automation"] == 0.0
            assert v.blocked == "no_anchor" and v.profile.mm < 0.0


def test_a_card_is_tied_by_a_template_only_where_enough_of_its_accounts_use_it() -> None:
    # A team or family card paying for six people's accounts, half of them new, trying the
    # new model; four of them sent one of the day's popular prompts: a shared card and a
    # template share of two thirds, but four accounts on it are fewer than a campaign's.
    # Eight on a card, six on one template, are a ring's accounts run by one script.
    cfg, pop = CoordinationConfig(), Population(harvest_share=0.1)

    def card(n: int, on_tpl: int) -> Group:
        g = Group("pay:x", "pay", 1_770_000_000.0)
        rng = random.Random(4)
        for i in range(n):
            o = Obs(
                h=i + 1, account_id=f"a{i}", ts=1_770_000_000.0 + 300.0 * i,
                age=2.0 if i % 2 else 400.0, harvest=0.0,
                fp=TEMPLATE ^ (1 << rng.randrange(64)) if i < on_tpl else rng.getrandbits(64),
                org=100 + i, net=1000 + i, infra=2000 + i, client=5, pay=11, pivot=1.0,
                rate=0.1, risk=0.0, dc=0.0, mm=0.0, hv=0.0,
            )  # fmt: skip
            g.observe(o, 64, 18)
        return g

    team = score_group(card(6, 4), pop, cfg)
    assert team.strengths["shared_template"] >= 0.5 and team.strengths["model_pivot"] >= 0.5
    assert team.blocked == "no_anchor"
    assert score_group(card(6, 5), pop, cfg).campaign  # min_accounts on it
    assert score_group(card(8, 6), pop, cfg).campaign
    for n, on in ((6, 4), (8, 6)):
        full, early = (
            score_group(card(n, on), pop, cfg),
            score_group(card(n, on), pop, cfg, early=True),
        )
        assert early.campaign == full.campaign
