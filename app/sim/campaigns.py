"""Distillation campaigns, one function per kind (THREATS.md describes the shapes)."""

from __future__ import annotations

import numpy as np

from app.sim import prompts, systems
from app.sim.benign_auto import power_user
from app.sim.benign_chat import ChatPools, chat_batch
from app.sim.crew import Crew, conv_fields, cot_mix, crew_net, harvest_pool, harvest_tokens, recruit
from app.sim.fitted import TABLES, sample_tokens
from app.sim.population import NetChoice
from app.sim.scenario import CampaignSpec
from app.sim.systems import CODING_TOOL_SYSTEMS
from app.sim.timing import bursts, gamma_arrivals
from app.sim.world import World, choose


def hydra(world: World, spec: CampaignSpec, exits: list[int], benign_median_per_day: float) -> Crew:
    """Many new accounts behind shared proxy exits, each a light user, fed round-robin."""
    crew = recruit(world, spec)
    rng = crew.rng
    # Each account's quota keeps it below the median benign account over the window.
    days = (crew.end - crew.start) / 86400.0
    quota = max(1, int(crew.p("rate_vs_benign_median") * benign_median_per_day * days))
    total = quota * len(crew.accounts)
    ts = gamma_arrivals(
        rng, crew.start, crew.end, (crew.end - crew.start) / total, rng.uniform(0.2, 1.0)
    )[:total]
    order = rng.permutation(len(crew.accounts))
    who = order[np.arange(len(ts)) % len(order)]
    texts = (
        cot_mix(world, crew, len(ts))
        if rng.random() < crew.p("cot_share")
        else harvest_pool(world, crew, len(ts), "agent")
    )
    ptok, ctok = harvest_tokens(crew, len(ts))
    exit_of = (
        choose(rng, exits, len(ts))
        if rng.random() < 0.5
        else np.array([crew_net(world, crew, exits) for _ in crew.accounts])[who]
    )
    for i, acct in enumerate(crew.accounts):
        m = who == i
        k = int(m.sum())
        world.emit(
            acct,
            ts[m],
            model=crew.fav_model,
            ptok=ptok[m],
            ctok=ctok[m],
            maxtok=crew.max_tokens,
            prompt=texts[m],
            net=exit_of[m],
            client=crew.clients[i % len(crew.clients)],
            **conv_fields(world, crew, k),
        )
    return crew


def cot_harvest(world: World, spec: CampaignSpec, exits: list[int]) -> Crew:
    """Reasoning harvest: CoT elicitation wrappers, rubric grading, safe rewrites, around the clock."""
    crew = recruit(world, spec)
    system = (
        world.bank.add("You are an expert tutor. Always explain your reasoning step by step.")
        if crew.rng.random() < 0.5
        else -1
    )
    for acct in crew.accounts:
        ts = gamma_arrivals(
            crew.rng, crew.start, crew.end, 86400.0 / crew.p("requests_per_day"), crew.p("gap_cv")
        )
        n = len(ts)
        ptok, ctok = harvest_tokens(crew, n)
        texts = cot_mix(world, crew, n, crew.p("rubric_share"), crew.p("rewrite_share"))
        world.emit(acct, ts, model=crew.fav_model, ptok=ptok, ctok=ctok, maxtok=crew.max_tokens, prompt=texts, system=system,
                   net=crew_net(world, crew, exits), client=crew.clients[0], **conv_fields(world, crew, n))  # fmt: skip
    return crew


def agentic_coding(world: World, spec: CampaignSpec, exits: list[int], pools: ChatPools) -> Crew:
    """Coding and tool-use harvest: scripted multi-turn agent tasks, one harness prompt."""
    crew = recruit(world, spec)
    rng = crew.rng
    system = world.bank.add(systems.harness_system(crew.r))
    coding_tasks = [prompts.coding(crew.r) for _ in range(3000)]
    for acct in crew.accounts:
        turns = crew.p("task_turns")
        starts = gamma_arrivals(
            rng, crew.start, crew.end, 86400.0 / crew.p("requests_per_day") * turns, 0.4
        )
        ts, task = bursts(
            rng,
            starts,
            rng.integers(max(1, int(turns) - 1), int(turns) + 2, len(starts)),
            crew.p("step_gap_s"),
            0.25,
        )
        n = len(ts)
        if n == 0:
            continue
        turn = np.arange(n) - np.searchsorted(task, task) + 1
        first = harvest_pool(world, crew, len(starts), "agent", coding_tasks)
        ptab = TABLES["agent"][0]
        _, ctok = harvest_tokens(crew, n)
        world.emit(acct, ts, model=crew.fav_model, ptok=sample_tokens(rng, ptab, n, 0.5), ctok=ctok, maxtok=crew.max_tokens,
                   prompt=np.where(turn == 1, choose(rng, first, n), choose(rng, pools.tool, n)), system=system,
                   conv=world.new_convs(len(starts))[task], turn=turn, net=crew_net(world, crew, exits), client=crew.clients[0])  # fmt: skip
    return crew


def release_pivot(world: World, spec: CampaignSpec, exits: list[int]) -> Crew:
    """A group that moves most of its traffic to the new model within a day of its release."""
    crew = recruit(world, spec)
    rng = crew.rng
    assert world.release_ts is not None
    pivot = world.release_ts + crew.p("pivot_delay_hours") * 3600
    for acct in crew.accounts:
        ts = gamma_arrivals(
            rng, crew.start, crew.end, 86400.0 / crew.p("requests_per_day"), crew.p("gap_cv")
        )
        n = len(ts)
        my_pivot = pivot + rng.normal(0, crew.p("pivot_jitter_min") * 60)
        model = np.where(
            (ts >= my_pivot) & (rng.random(n) < crew.p("pivot_share")),
            world.new_model,
            crew.fav_model,
        )
        ptok, ctok = harvest_tokens(crew, n)
        texts = (
            cot_mix(world, crew, n, 0.1)
            if rng.random() < 0.5
            else harvest_pool(world, crew, n, "agent")
        )
        world.emit(acct, ts, model=model, ptok=ptok, ctok=ctok, maxtok=crew.max_tokens, prompt=texts,
                   net=crew_net(world, crew, exits), client=crew.clients[0], **conv_fields(world, crew, n))  # fmt: skip
    return crew


def blended(world: World, spec: CampaignSpec, pools: ChatPools, tools: np.ndarray) -> Crew:
    """Active accounts whose traffic is mostly legitimate, with a harvesting share of about 10%."""
    crew = recruit(world, spec)
    rng = crew.rng
    homes = [world.nets.residential(world.accounts[a].country) for a in crew.accounts]
    half = len(crew.accounts) // 2
    # One half chats a lot, the other half drives a coding agent; both are real work.
    chatty = chat_batch(world, rng, crew.accounts[:half], pools, NetChoice.of([[h] for h in homes[:half]]),
                        per_day=rng.uniform(6.0, 30.0, half))  # fmt: skip
    legit = list(chatty.tolist())
    system = world.bank.add(CODING_TOOL_SYSTEMS[0])
    for acct, net in zip(crew.accounts[half:], homes[half:], strict=True):
        legit.append(power_user(world, rng, acct, net, system, pools.coding, tools))
    for acct, net, count in zip(crew.accounts, homes, legit, strict=True):
        share = crew.p("harvest_share")
        k = max(1, round(count * share / (1 - share)))
        ts = np.sort(rng.uniform(crew.start, crew.end, k))
        ptok, ctok = harvest_tokens(crew, k)
        world.emit(acct, ts, model=crew.fav_model, ptok=ptok, ctok=ctok, maxtok=crew.max_tokens, prompt=cot_mix(world, crew, k, 0.2),
                   net=net, client=crew.clients[0], **conv_fields(world, crew, k))  # fmt: skip
    return crew


def scraper(world: World, spec: CampaignSpec) -> Crew:
    """One loud account: a steady high request rate of one template from one host."""
    crew = recruit(world, spec)
    rng = crew.rng
    for acct in crew.accounts:
        ts = gamma_arrivals(
            rng, crew.start, crew.end, 1.0 / crew.p("rate_per_s"), rng.uniform(0.1, 0.4)
        )
        n = len(ts)
        ptok, ctok = harvest_tokens(crew, n)
        limited = rng.random(n) < rng.uniform(0.01, 0.08)
        world.emit(acct, ts, model=crew.fav_model, ptok=ptok, ctok=np.where(limited, 0, ctok), maxtok=crew.max_tokens,
                   prompt=cot_mix(world, crew, n), status=np.where(limited, 429, 200), net=world.nets.datacenter(),
                   client=crew.clients[0], **conv_fields(world, crew, n))  # fmt: skip
    return crew
