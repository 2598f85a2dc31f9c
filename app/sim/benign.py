"""Build the benign population of a scenario, archetype by archetype."""

from __future__ import annotations

import numpy as np

from app.sim import prompts, systems
from app.sim.benign_auto import ci_bot, enterprise_org, eval_run, power_user
from app.sim.benign_chat import ChatPools, chat_batch, framework_batch
from app.sim.population import NetChoice, home_net, new_benign
from app.sim.world import World, pick, pick_n


def populate_benign(world: World, providers: list[list[int]]) -> ChatPools:
    """Generate every benign archetype the scenario asks for; return the shared prompt pools."""
    counts = world.sc.benign
    chatty = sum(counts[k] for k in ("casual", "shared_egress", "proxy_users", "release_curious"))
    pools = ChatPools(world, chatty + counts["agent_framework"])
    mobile = world.nets.carrier_pools()

    rng = world.rng("casual")
    accts, nets = [], []
    for _ in range(counts["casual"]):
        acct = new_benign(world, rng, "casual")
        mine = [home_net(world, rng, acct)]
        if rng.random() < 0.3:  # home and office
            mine.append(world.nets.residential(world.accounts[acct].country))
        accts.append(acct)
        nets.append(mine)
    if accts:
        chat_batch(world, rng, accts, pools, NetChoice.of(nets), mobile)

    rng = world.rng("shared-egress")
    accts, nets, left = [], [], counts["shared_egress"]
    while left > 0:
        size = min(left, round(pick(rng, world.sc.archetypes["shared_egress"]["nat_size"])))
        cc = str(rng.choice(["US", "GB", "DE", "IN", "US"]))
        nat = world.nets.nat_pool(int(rng.integers(4, 48)), int(rng.integers(1, 60000)), cc)
        accts.extend(new_benign(world, rng, "shared-egress", cc) for _ in range(size))
        nets.extend([nat] * size)
        left -= size
    if accts:
        chat_batch(world, rng, accts, pools, NetChoice.of(nets))

    rng = world.rng("proxy-users")
    accts = [new_benign(world, rng, "proxy-user") for _ in range(counts["proxy_users"])]
    if accts:
        chat_batch(
            world,
            rng,
            accts,
            pools,
            NetChoice.of([providers[i % len(providers)] for i in range(len(accts))]),
        )

    _release_curious(world, pools, mobile)

    rng = world.rng("agent-framework")
    par = world.sc.archetypes["agent_framework"]
    big = pick(rng, par["big_framework_share"])
    accts, sys_ids, net_ids = [], [], []
    for _ in range(counts["agent_framework"]):
        acct = new_benign(world, rng, "agent-framework")
        accts.append(acct)
        sys_ids.append(
            pools.frameworks[0]
            if rng.random() < big
            else pools.frameworks[1 + int(rng.integers(len(pools.frameworks) - 1))]
        )
        dc = rng.random() < pick(rng, par["datacenter_share"])
        net_ids.append(world.nets.datacenter() if dc else home_net(world, rng, acct))
    if accts:
        framework_batch(world, rng, accts, pools, np.array(sys_ids), np.array(net_ids))

    rng = world.rng("power")
    tool_systems = [world.bank.add(t) for t in systems.CODING_TOOL_SYSTEMS]
    for _ in range(counts["power"]):
        acct = new_benign(world, rng, "power-user")
        dc = rng.random() < pick(rng, world.sc.archetypes["power"]["datacenter_share"])
        net = world.nets.datacenter() if dc else home_net(world, rng, acct)
        power_user(
            world,
            rng,
            acct,
            net,
            tool_systems[int(rng.integers(len(tool_systems)))],
            pools.coding,
            pools.tool,
        )

    rng = world.rng("enterprise")
    for _ in range(counts["enterprise_orgs"]):
        enterprise_org(world, rng)

    rng = world.rng("ci")
    jobs = world.bank.pool(prompts.ci_job, 400)
    for _ in range(counts["ci_bots"]):
        acct = new_benign(world, rng, "ci-bot")
        ci_bot(world, rng, acct, jobs, world.nets.datacenter())

    rng = world.rng("eval")
    for _ in range(counts["eval_runs"]):
        acct = world.add_account("eval-run", world.created(rng, False), "US", -6.0)
        eval_run(world, rng, acct, world.nets.datacenter())
    return pools


def _release_curious(world: World, pools: ChatPools, mobile: dict[str, list[int]]) -> None:
    """Ordinary users who try the new model on release day, some signing up for it."""
    rng = world.rng("release-curious")
    par = world.sc.archetypes["release_curious"]
    n = world.sc.benign["release_curious"]
    if n == 0:
        return
    accts = [new_benign(world, rng, "release-curious") for _ in range(n)]
    extra = None
    if world.release_ts is not None:
        release = world.release_ts
        for acct in accts:
            if rng.random() < pick(rng, par["signup_share"]):
                world.accounts[acct].created_ts = release + float(rng.exponential(3 * 3600))
        k = rng.poisson(pick_n(rng, par["extra_sessions"], n))
        who = np.repeat(np.arange(n), k)
        after = np.array([max(world.accounts[a].created_ts, release) for a in accts])[who]
        extra = (who, after + 60.0 + rng.exponential(3 * 3600, len(who)))
    nets = NetChoice.of([[home_net(world, rng, a)] for a in accts])
    chat_batch(world, rng, accts, pools, nets, mobile, pick_n(rng, par["try_share"], n), extra)
