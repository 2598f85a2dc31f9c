"""Benign automation and heavy use: power users and coding agents, enterprise pipelines,
CI bots and evaluation runs of public benchmarks."""

from __future__ import annotations

import random
from functools import partial

import numpy as np

from app.sim import prompts, systems
from app.sim.fitted import TABLES, sample_tokens
from app.sim.timing import bursts, clockwork, gamma_arrivals, group_cumsum, session_starts
from app.sim.world import World, choose, pick


def _position(group: np.ndarray) -> np.ndarray:
    """1-based position of each row inside its (sorted, contiguous) group."""
    return np.arange(len(group)) - np.searchsorted(group, group) + 1


def power_user(
    world: World,
    rng: np.random.Generator,
    acct: int,
    net: int,
    system: int,
    coding: np.ndarray,
    tools: np.ndarray,
) -> int:
    """A developer driving a coding agent: bursts of fast multi-turn tool loops in work hours."""
    par = world.sc.archetypes["power"]
    a = world.accounts[acct]
    starts = session_starts(
        rng, world.t0, world.t1, pick(rng, par["sessions_per_day"]), a.tz, 14.0, 0.04
    )
    k = 1 + rng.poisson(pick(rng, par["session_tasks"]) - 1, len(starts))
    task_session = np.repeat(np.arange(len(starts)), k)
    gap = pick(rng, par["request_gap_s"])
    sizes = rng.geometric(1.0 / pick(rng, par["task_turns"]), len(task_session))
    first = np.cumsum(k) - k
    step = rng.lognormal(np.log(pick(rng, par["pause_s"])), 0.7, len(task_session)) + np.roll(
        sizes * gap * 1.3, 1
    )
    step[first] = 0.0
    task_starts = starts[task_session] + group_cumsum(step, first, task_session)
    ts, task = bursts(rng, task_starts, sizes, gap)
    turn = _position(task)
    # Parallel tool calls and sub-agents: some steps fan out into several requests at once.
    fan = rng.random(len(ts)) < pick(rng, par["fanout_share"])
    rep = np.where(fan, rng.integers(2, round(pick(rng, par["fanout_max"])) + 1, len(ts)), 1)
    ts, task, turn = np.repeat(ts, rep), np.repeat(task, rep), np.repeat(turn, rep)
    ts = ts + np.where(np.repeat(fan, rep), rng.uniform(0.0, 0.4, len(ts)), 0.0)
    n = len(ts)
    if n == 0:
        return 0
    ptab, ctab = TABLES["agent"]
    maxtok = int(rng.choice([8000, 8192, 16000, 16384, 32000]))
    comp = np.minimum(sample_tokens(rng, ctab, n, pick(rng, par["completion_scale"])), maxtok)
    models = world.models[: len(world.sc.models)]
    fav = int(rng.integers(len(models)))
    model = np.full(n, fav)
    if world.release_ts is not None:
        model = np.where(
            (ts > world.release_ts) & (rng.random(n) < rng.uniform(0.1, 0.6)),
            world.new_model,
            model,
        )
    limited = rng.random(n) < rng.uniform(0.0, 0.03)  # heavy bursts meet the rate limit
    return world.emit(
        acct,
        ts,
        model=model,
        status=np.where(limited, 429, 200),
        ptok=sample_tokens(rng, ptab, n, pick(rng, par["token_scale"])),
        ctok=comp,
        maxtok=maxtok,
        prompt=np.where(turn == 1, choose(rng, coding, n), choose(rng, tools, n)),
        system=system,
        conv=world.new_convs(len(task_session))[task],
        turn=turn,
        net=net,
        client=world.clients.pick("coding" if rng.random() < 0.8 else "sdk"),
    )


def enterprise_org(world: World, rng: np.random.Generator) -> int:
    """One organisation: a few accounts, many keys, one template, very regular timing."""
    par = world.sc.archetypes["enterprise"]
    r = world.bank.rand
    org_id = world.hexid("org_", 5)
    keys = [world.new_key() for _ in range(round(pick(rng, par["keys_per_org"])))]
    system = world.bank.add(systems.enterprise_system(r, org_id))
    template = systems.enterprise_template(r)
    cc = str(rng.choice(["US", "US", "GB", "DE", "JP", "FR", "IN", "CA"]))
    gateway = world.nets.nat_pool(
        int(rng.integers(1, 5)),
        int(rng.choice([16509, 15169, 8075])),
        cc,
        int(rng.choice([3, 34, 20, 52])),
    )
    payment = world.hexid("pm_", 8) if rng.random() < 0.5 else None  # invoiced orgs have no card
    total = 0
    for _ in range(round(pick(rng, par["accounts_per_org"]))):
        acct = world.add_account(
            "enterprise-pipeline",
            world.created(rng, False),
            cc,
            0.0,
            org_id=org_id,
            payment_fp=payment,
        )
        per_day = pick(rng, par["requests_per_day"])
        if rng.random() < pick(rng, par["business_hours_share"]):
            ts = np.concatenate(
                [
                    _business_hours(world, rng, d, per_day, pick(rng, par["jitter_cv"]))
                    for d in range(int(np.ceil((world.t1 - world.t0) / 86400)))
                ]
            )
        else:
            ts = gamma_arrivals(
                rng, world.t0, world.t1, 86400.0 / per_day, pick(rng, par["jitter_cv"])
            )
        n = len(ts)
        docs = world.bank.pool(partial(_fill, template), min(n, 800))
        ptab, ctab = TABLES["code"]
        mine = rng.choice(keys, size=max(1, len(keys) // 2), replace=False)
        total += world.emit(
            acct,
            ts,
            model=int(rng.integers(len(world.sc.models))),
            ptok=sample_tokens(rng, ptab, n, rng.uniform(0.4, 1.0), lo=60),
            ctok=sample_tokens(rng, TABLES["conv"][1], n, 0.5),
            maxtok=int(rng.choice([512, 1000, 1024, 2048])),
            prompt=choose(rng, docs, n),
            system=system,
            key=choose(rng, mine, n),
            net=choose(rng, gateway, n),
            client=world.clients.pick("sdk"),
        )
    return total


def _fill(template: str, r: random.Random) -> str:
    return template.format(doc=prompts.document(r))


def _business_hours(
    world: World, rng: np.random.Generator, day: int, per_day: float, cv: float
) -> np.ndarray:
    start = world.t0 + day * 86400 + rng.uniform(7, 9) * 3600
    end = start + rng.uniform(8, 11) * 3600
    return gamma_arrivals(rng, start, min(end, world.t1), (end - start) / per_day, cv)


def ci_bot(world: World, rng: np.random.Generator, acct: int, jobs: np.ndarray, net: int) -> int:
    """A scheduled job: clockwork runs of a few requests each."""
    par = world.sc.archetypes["ci_bot"]
    runs = clockwork(
        rng, world.t0, world.t1, pick(rng, par["period_min"]) * 60.0, pick(rng, par["jitter_s"])
    )
    ts, _ = bursts(
        rng, runs, rng.integers(1, round(pick(rng, par["requests_per_run"])) + 1, len(runs)), 4.0
    )
    n = len(ts)
    return world.emit(
        acct,
        ts,
        model=int(rng.integers(len(world.sc.models))),
        ptok=sample_tokens(rng, TABLES["code"][0], n, 0.6, lo=80),
        ctok=sample_tokens(rng, TABLES["conv"][1], n, 1.0),
        maxtok=int(rng.choice([1024, 2048, 4096])),
        prompt=choose(rng, jobs, n),
        net=net,
        client=world.clients.pick("ci" if rng.random() < 0.6 else "script"),
    )


def eval_run(world: World, rng: np.random.Generator, acct: int, net: int) -> int:
    """A lab runs a public benchmark once: one short, templated burst (CoT prompting or code)."""
    par = world.sc.archetypes["eval_run"]
    r = world.bank.rand
    items = round(pick(rng, par["items"]))
    on_new = world.release_ts is not None and rng.random() < pick(rng, par["new_model_share"])
    lo = world.release_ts if on_new and world.release_ts is not None else world.t0
    start = rng.uniform(lo, max(lo + 1.0, min(lo + 6 * 3600, world.t1 - 1800)))
    ts, _ = bursts(
        rng, np.array([start]), np.array([items]), 1.0 / pick(rng, par["rate_per_s"]), 0.9
    )
    if rng.random() < 0.7:
        fmt = r.choice(
            systems.EVAL_MATH_FORMATS[:2]
            if rng.random() < pick(rng, par["cot_share"])
            else systems.EVAL_MATH_FORMATS[2:]
        )
        texts = world.bank.pool(lambda rr: fmt.format(task=prompts.math_problem(rr)), items)
    else:
        fmt = r.choice(systems.EVAL_CODE_FORMATS)
        texts = world.bank.pool(lambda rr: fmt.format(task=systems.humaneval_task(rr)), items)
    n = len(ts)
    return world.emit(
        acct,
        ts,
        model=world.new_model if on_new else int(rng.integers(len(world.sc.models))),
        status=np.where(rng.random(n) < rng.uniform(0.0, 0.05), 429, 200),
        ptok=rng.integers(60, 400, n),
        ctok=rng.integers(20, 700, n),
        maxtok=int(rng.choice([512, 1024, 2048])),
        prompt=texts[:n],
        net=net,
        client=world.clients.pick("sdk"),
    )
