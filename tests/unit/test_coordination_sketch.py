from __future__ import annotations

import random
from hashlib import blake2b

import orjson
from hypothesis import given
from hypothesis import strategies as st

from app.core.coordination_config import CoordinationConfig
from app.core.coordination_group import AGE, HV, SG, F, Group, Obs, Profile
from app.core.coordination_keys import template_keys
from app.core.coordination_score import cohort_age, matches
from app.core.coordination_sketch import (
    Doorkeeper,
    PopulationSample,
    Templates,
    key_hash,
    seeded_hash,
    template_from_keys,
)
from tests.unit.helpers import replaced


def _obs(i: int, ts: float = 0.0) -> Obs:
    h = seeded_hash(f"acct-{i}", 1)
    return Obs(h, f"acct-{i}", ts, 3.0, 0.0, *([0] * 6), *([0.0] * 5))


@given(st.lists(st.tuples(st.text(max_size=40), st.integers(0, 2**64 - 1)), max_size=20))
def test_seeded_hash_is_the_keyed_blake2b_of_the_text(calls: list[tuple[str, int]]) -> None:
    # Sampling and persisted state rest on these values: the keyed state kept per seed must
    # give what hashing afresh gives, whatever the order of texts and seeds.
    for text, seed in calls:
        key = seed.to_bytes(8, "little")
        fresh = blake2b(text.encode(), digest_size=8, key=key).digest()
        assert seeded_hash(text, seed) == int.from_bytes(fresh, "little")


def test_doorkeeper_admits_on_second_distinct_account() -> None:
    door = Doorkeeper(bits=8)
    k = key_hash("net:1.2.3", 1)
    assert not door.admit(k, 11)
    assert not door.admit(k, 11)  # the same account again is not a group
    assert door.admit(k, 12)
    assert door.nbytes() == 8 * 256


@given(st.integers(min_value=1, max_value=2**64 - 1))
def test_template_keys_round_trip(fp: int) -> None:
    assert template_from_keys(template_keys(fp)) == fp


def test_template_from_partial_keys_is_unknown() -> None:
    assert template_from_keys(template_keys(0x1234_5678_9ABC_DEF0)[:3]) == 0


def test_templates_settle_on_the_stable_bits() -> None:
    rng = random.Random(3)
    centre = rng.getrandbits(64)
    t = Templates()
    for _ in range(300):
        fp = centre
        for b in rng.sample(range(64), 10):  # every instance differs in ten random bits
            fp ^= 1 << b
        t.add(fp, radius=24)
        t.add(rng.getrandbits(64), radius=24)  # unrelated prompts in between
    best, weight = t.dominant()
    assert weight >= 150  # Misra-Gries: at least count - n / (slots + 1)
    assert (best ^ centre).bit_count() <= 8  # instances are ~10 bits off, random ones ~32


def test_group_distinct_estimate_is_close_beyond_the_sample() -> None:
    g = Group("client:x", "client", 0.0)
    for i in range(20_000):
        g.observe(_obs(i), k=64, radius=18)
    assert g.size() == 64
    assert 0.7 * 20_000 <= g.n_est(64) <= 1.3 * 20_000
    assert g.n_est(64) == g.n_est(64)
    small = Group("pay:y", "pay", 0.0)
    for i in range(10):
        small.observe(_obs(i % 5), k=64, radius=18)
    assert small.n_est(64) == 5
    assert small.column(0) == [2.0] * 5  # signals per member


def test_a_group_samples_the_smallest_hashes_and_counts_each_members_signals() -> None:
    # A bottom-k sample: whatever the order, it holds the k smallest hashes seen, and a
    # member's signals are counted on its row, the largest sampled hash's too (a hash above
    # the largest of a full sample is neither held nor admitted, and is not searched for).
    rng = random.Random(3)
    g = Group("client:x", "client", 0.0)
    accounts = [rng.randrange(1500) for _ in range(4000)]
    hashes: set[int] = set()
    for i in accounts:
        row = g.observe(_obs(i), k=64, radius=18)
        hashes.add(h := seeded_hash(f"acct-{i}", 1))
        held = sorted(hashes)[:64]
        assert sorted(g.hashes) == held
        assert (row >= 0) == (h in held)
    # A held hash was held from its first signal on (the largest sampled hash only falls),
    # so its count is every signal of its account.
    seen = {seeded_hash(f"acct-{a}", 1): accounts.count(a) for a in set(accounts)}
    assert {h: seen[h] for h in g.hashes} == dict(zip(g.hashes, g.column(0), strict=True))


def test_population_sample_is_bounded() -> None:
    ps = PopulationSample(k=64)
    hashes = set()
    for i in range(5000):
        h = seeded_hash(str(i % 3000), 1)  # accounts seen again too
        hashes.add(h)
        wanted = ps.wants(h)
        ps.add(h, (1.0 if i % 4 == 0 else 0.0, 0.5, float(i)))
        assert wanted == (ps.sample.get(h, (0.0, 0.0, -1.0))[2] == i)  # recorded if wanted
        # a bottom-k sample: the smallest hashes seen so far, its largest the one to drop
        assert sorted(ps.sample) == sorted(hashes)[:64]
        assert len(ps.sample) < 64 or ps.top == max(ps.sample)
    assert len(ps.sample) == 64
    got = ps.stats(medians=(1, 0))
    assert got is not None
    means, medians = got
    assert 0.1 <= means[0] <= 0.45 and medians == [0.5, 0.0]
    skip = set(list(ps.sample)[:32])
    rest = ps.stats(skip)
    assert rest is not None and rest != got or len(skip) == 0


def _member_obs(age: float, harvest: float) -> Obs:
    return Obs(
        h=1, account_id="a", ts=0.0, age=age, harvest=harvest, fp=0, org=0, net=0, infra=0,
        client=0, pay=0, pivot=0.0, rate=0.1, risk=0.0, dc=0.0, mm=0.0,
    )  # fmt: skip


def test_the_new_check_asks_a_member_to_be_as_new_as_the_group_measures_it() -> None:
    # A group's new-accounts family weighs an account fully new up to a week, fading to 0 at
    # new_days; a member passes the new check where that weight is at least a half.
    cfg = CoordinationConfig()
    profile = Profile(new=True, harvest=0.1)
    assert matches(profile, _member_obs(2.0, 0.3), cfg)
    assert matches(profile, _member_obs(15.0, 0.3), cfg)
    assert not matches(profile, _member_obs(25.0, 0.3), cfg)  # under new_days, barely new
    assert not matches(profile, _member_obs(-1.0, 0.3), cfg)  # age unknown
    assert not matches(profile, _member_obs(2.0, 0.05), cfg)  # new, not harvesting


def test_a_member_must_show_a_trait_crowds_lack() -> None:
    # New and on the new model is every release-day sign-up: it names nobody untied,
    # while a card shared with the campaign still ties such a member.
    cfg = CoordinationConfig()
    profile = Profile(new=True, pivot=0.3)
    curious = replaced(_member_obs(1.0, 0.0), pivot=1.0)
    assert not matches(profile, curious, cfg)
    assert matches(profile, curious, cfg, slack=1)
    spoofed = replaced(curious, mm=1.0)
    assert matches(replaced(profile, mm=0.5), spoofed, cfg)


def test_harvest_beside_crowd_traits_must_be_clear() -> None:
    # Where harvesting is the one check crowds lack, a single harvest-shaped request
    # (just over the line) is not enough; clear harvesting is.
    cfg = CoordinationConfig()
    profile = Profile(new=True, harvest=0.15)
    assert not matches(profile, _member_obs(2.0, 0.2), cfg)
    assert matches(profile, _member_obs(2.0, 0.15 + cfg.harvest_member), cfg)
    on_tpl = replaced(profile, centres=(0xFFFF,))
    member = replaced(_member_obs(2.0, 0.2), fp=0xFFFF)
    assert matches(on_tpl, member, cfg)  # with the template as well, the line is enough


def test_an_established_member_on_the_template_that_harvests_passes_the_new_check() -> None:
    # A campaign that mixes its harvest into its own established accounts' traffic: the
    # group is mostly new, so it asks members to be new; an established member on the
    # template with harvest over the population line is named all the same.
    cfg = CoordinationConfig()
    profile = Profile(new=True, centres=(0xFFFF,))
    line = 0.15
    member = replaced(_member_obs(400.0, 0.2), fp=0xFFFF)
    assert matches(profile, member, cfg, line=line)
    assert not matches(profile, member, cfg)  # no population line given: never
    assert not matches(profile, replaced(member, harvest=0.1), cfg, line=line)
    off_template = replaced(member, fp=0xFFFF << 40)
    assert not matches(profile, off_template, cfg, line=line)


def test_harvest_that_stands_in_for_new_is_clear_where_harvest_is_checked_too() -> None:
    cfg = CoordinationConfig()
    profile = Profile(new=True, centres=(0xFFFF,), harvest=0.15)
    member = replaced(_member_obs(400.0, 0.2), fp=0xFFFF)
    assert not matches(profile, member, cfg, line=0.15)  # one harvest, two checks: no
    clear = replaced(member, harvest=0.15 + cfg.harvest_member)
    assert matches(profile, clear, cfg, line=0.15)


def test_a_member_older_than_the_campaigns_cohort_is_not_new_by_its_age() -> None:
    # A campaign's accounts are made in a burst: a member new by the new_days line but older
    # than the campaign's own new accounts is a bystander that happens to be new.
    cfg = CoordinationConfig()
    profile = Profile(new=True, centres=(0xFFFF,), young=5.0)
    member = replaced(_member_obs(4.0, 0.0), fp=0xFFFF)
    assert matches(profile, member, cfg)
    assert not matches(profile, replaced(member, age=9.0), cfg)
    assert matches(replaced(profile, young=-1.0), replaced(member, age=9.0), cfg)  # no bound
    # The established member on the template that harvests still stands in for new.
    assert matches(profile, replaced(member, age=400.0, harvest=0.2), cfg, line=0.15)


def test_the_cohort_bound_is_nine_in_ten_of_the_new_members_ages_plus_slack() -> None:
    cfg = CoordinationConfig()
    g = Group("client:x", "client", 0.0)
    assert cohort_age(g, cfg) == -1.0
    ages = [0.5 * i for i in range(1, 21)] + [25.0, 400.0, -1.0]  # 20 new, 3 not (or unknown)
    for i, age in enumerate(ages):
        g.observe(replaced(_obs(i), age=age), 64, 18)
    assert cohort_age(g, cfg) == 9.0 + cfg.cohort_slack_days  # the 18th of 20 new ages
    old = Group("client:y", "client", 0.0)
    for i, age in enumerate((25.0, 400.0, -1.0)):
        old.observe(replaced(_obs(i), age=age), 64, 18)
    assert cohort_age(old, cfg) == -1.0


def test_a_profile_record_keeps_its_cohort_bound_and_reads_older_records() -> None:
    p = Profile(new=True, centres=(3,), harvest=0.2, cards=(7,), young=6.5, hv=0.5)
    assert Profile.from_list(orjson.loads(orjson.dumps(p.to_list()))) == p
    asks = replaced(p, asks=True)
    assert Profile.from_list(orjson.loads(orjson.dumps(asks.to_list()))) == asks
    assert Profile.from_list(asks.to_list()[:10]) == p  # written before ``asks``
    assert asks.without(harvest=True).asks
    assert Profile.from_list(p.to_list()[:7]) == replaced(p, hv=-1.0)
    assert Profile.from_list(p.to_list()[:6]) == replaced(p, young=-1.0, hv=-1.0)
    assert Profile.from_list(p.to_list()[:5]) == replaced(p, cards=(), young=-1.0, hv=-1.0)
    assert p.without(harvest=True) == replaced(p, harvest=-1.0)
    assert replaced(p, made=5.0).without(batch=True) == p


def test_a_member_named_for_asking_pays_with_a_card_other_orgs_share() -> None:
    # Where a group is a campaign by what its members ask, asking is a trait each member
    # shares with ordinary users (one question asking for steps); the card is the one a
    # crowd lacks. Alone, asking names a member only if it harvests over the line too.
    cfg = CoordinationConfig()
    profile = Profile(new=True, cards=(11,), hv=0.5)

    def member(hv: float, pay: int, age: float = 0.5, harvest: float = 0.0) -> Obs:
        return replaced(_member_obs(age, harvest), hv=hv, pay=pay)

    assert matches(profile, member(1.0, 11), cfg)
    assert not matches(profile, member(1.0, 99), cfg)  # a new account asking, its own card
    assert not matches(profile, member(0.0, 11), cfg)  # not asking
    assert not matches(profile, member(1.0, 11, age=400.0), cfg)  # not new
    lone = Profile(hv=0.5)
    assert not matches(lone, member(1.0, 0), cfg, line=0.2)
    assert matches(lone, member(1.0, 0, harvest=0.3), cfg, line=0.2)


def test_a_group_record_written_before_the_asking_or_turn_columns_reads_as_before_them() -> None:
    """A record of version 1 has neither the asking (HV) nor the single-turn (SG) column, one
    of version 2 no SG: a member reads as not asking, and as opening a conversation with
    each request (an unknown turn counts as one)."""
    g = Group("client:y", "client", 0.0)
    for i in range(3):
        g.observe(replaced(_obs(i), hv=1.0, sg=0.2), 64, 18)
    record = g.to_dict()
    back = Group.from_dict(orjson.loads(orjson.dumps(record)))
    assert back.column(HV) == [1.0] * 3 and back.column(SG) == [0.2] * 3
    v2 = dict(record, v=2, rows=[x for i, x in enumerate(record["rows"]) if i % F != SG])
    assert len(v2["rows"]) == 3 * (F - 1)
    back = Group.from_dict(v2)
    assert back.column(SG) == [1.0] * 3 and back.column(HV) == [1.0] * 3
    assert back.column(AGE) == g.column(AGE)
    v1 = dict(record, v=1, rows=[x for i, x in enumerate(record["rows"]) if i % F not in (HV, SG)])
    assert len(v1["rows"]) == 3 * (F - 2)
    back = Group.from_dict(v1)
    assert back.column(HV) == [0.0] * 3 and back.column(SG) == [1.0] * 3
    assert back.column(AGE) == g.column(AGE)


def test_a_group_record_keeps_its_strata() -> None:
    g = Group("client:y", "client", 0.0)
    g.askers = Group("client:y", "client", 0.0)
    for i in range(3):
        o = replaced(_obs(i), hv=1.0)
        g.observe(o, 64, 18)
        g.askers.observe(o, 64, 18)
    record = orjson.loads(orjson.dumps(g.to_dict()))
    back = Group.from_dict(record)
    assert back.askers is not None and back.askers.ids == g.askers.ids and back.core is None
    # A record written before the askers' stratum: it fills again from new signals.
    assert Group.from_dict({k: v for k, v in record.items() if k != "askers"}).askers is None
