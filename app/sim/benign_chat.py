"""Benign people chatting: casual users, users behind shared NAT or proxies, release-day
curiosity, and users of popular agent frameworks (one shared system prompt)."""

from __future__ import annotations

import numpy as np

from app.sim import prompts, systems
from app.sim.fitted import TABLES, sample_tokens
from app.sim.population import NetChoice, model_choice
from app.sim.timing import expand, group_cumsum, sessions_batch
from app.sim.world import World, choose, pick_n

MAX_TOKENS = np.array([1000, 1024, 2000, 2048, 4000, 4096, 4096, 8000, 8192, 16384])


class ChatPools:
    """Prompt pools shared by every chatting account of a scenario."""

    def __init__(self, world: World, n_accounts: int) -> None:
        size = int(min(40_000, 400 + n_accounts * 1.5))
        bank = world.bank
        self.chat = bank.pool(prompts.chat, size)
        self.followup = bank.pool(prompts.followup, max(200, size // 8))
        self.coding = bank.pool(prompts.coding, max(200, size // 5))
        self.math = bank.pool(prompts.math_problem, max(200, size // 10))
        self.tool = bank.pool(prompts.tool_step, max(200, size // 5))
        self.frameworks = [bank.add(t) for t in systems.FRAMEWORK_SYSTEMS]


def chat_batch(
    world: World,
    rng: np.random.Generator,
    accts: list[int],
    pools: ChatPools,
    nets: NetChoice,
    mobile: dict[str, list[int]] | None = None,
    try_share: np.ndarray | float = 0.0,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    per_day: np.ndarray | None = None,
) -> np.ndarray:
    """Generate chatting accounts: diurnal sessions of multi-turn conversations (all at once).

    ``extra`` adds session starts as (account position, time). Returns events kept per account
    position.
    """
    par, pop = world.sc.archetypes["casual"], world.sc.archetypes["population"]
    k = len(accts)
    acct_arr = np.asarray(accts, dtype=np.int64)
    tz = np.array([world.accounts[i].tz for i in accts])
    if per_day is None:
        per_day = pick_n(rng, par["sessions_per_day"], k)
    peak, floor = pick_n(rng, par["peak_hour"], k), pick_n(rng, par["diurnal_floor"], k)
    who, starts = sessions_batch(rng, world.t0, world.t1, per_day, tz, peak, floor)
    if extra is not None:
        who, starts = np.concatenate([who, extra[0]]), np.concatenate([starts, extra[1]])
    s = len(who)
    turns = rng.geometric(1.0 / pick_n(rng, par["turns_mean"], k)[who])
    ts, session, turn = expand(rng, starts, turns, pick_n(rng, par["turn_gap_s"], k)[who], 0.8)
    first = np.flatnonzero(turn == 1)
    ev_who = who[session]
    n = len(ts)
    maxtok = MAX_TOKENS[rng.integers(0, len(MAX_TOKENS), k)][ev_who]
    scale = pick_n(rng, par["token_scale"], k)[ev_who]
    ptab, ctab = TABLES["conv"]
    out_scale = pick_n(rng, par["output_scale"], k)[ev_who]
    comp = np.minimum(sample_tokens(rng, ctab, n) * scale * out_scale, maxtok).astype(np.int64)
    inc = comp + sample_tokens(rng, ptab, n, 0.08)
    prompt_tok = (
        (sample_tokens(rng, ptab, n) * scale).astype(np.int64)[first][session]
        + group_cumsum(inc, first, session)
        - inc
    )
    # First turns: chat, coding or math, by each user's own interests.
    interest = rng.dirichlet((8.0, 1.0, 0.7), k)[ev_who]
    u = rng.random(n)
    first_text = np.select(
        [u < interest[:, 0], u < interest[:, 0] + interest[:, 1]],
        [choose(rng, pools.chat, n), choose(rng, pools.coding, n)],
        choose(rng, pools.math, n),
    )
    text = np.where(turn == 1, first_text, choose(rng, pools.followup, n))
    sess_net = nets.draw(rng, who)
    if mobile:  # some sessions come from the phone, behind the carrier's NAT
        carrier = NetChoice.of([mobile.get(world.accounts[i].country, []) for i in accts])
        has = carrier.size[who] > 0
        on_mobile = has & (rng.random(s) < pick_n(rng, pop["mobile_share"], k)[who])
        sess_net[on_mobile] = carrier.draw(rng, who[on_mobile])
    system = np.full(k, -1, dtype=np.int64)
    custom = rng.random(k) < pick_n(rng, pop["custom_system_share"], k)
    system[custom] = [
        world.bank.add(prompts.persona_system(world.bank.rand)) for _ in range(int(custom.sum()))
    ]
    client = np.array([_client(world, rng) for _ in range(k)])
    fav = rng.integers(0, len(world.sc.models), k)[ev_who]
    try_ev = try_share[ev_who] if isinstance(try_share, np.ndarray) else try_share
    counts = world.emit_many(
        acct_arr[ev_who],
        ts,
        model=model_choice(world, rng, ts, fav, try_ev),
        ptok=prompt_tok,
        ctok=comp,
        maxtok=maxtok,
        prompt=text,
        system=system[ev_who],
        conv=world.new_convs(s)[session],
        turn=turn,
        net=sess_net[session],
        client=client[ev_who],
    )
    return counts[acct_arr]


def _client(world: World, rng: np.random.Generator) -> int:
    """Browser or SDK; a few browsers sit behind a TLS-intercepting corporate proxy."""
    u = rng.random()
    if u < 0.02:  # a script that sends a browser user agent (unofficial wrappers do)
        return world.clients.pick("browser", tls_override="python")
    if u < 0.08:  # curl, requests, httpx: people script against the API directly
        return world.clients.pick("script")
    if u < 0.35:
        return world.clients.pick(
            "browser", tls_override="corp-proxy" if rng.random() < 0.08 else None
        )
    return world.clients.pick("sdk")


def framework_batch(
    world: World,
    rng: np.random.Generator,
    accts: list[int],
    pools: ChatPools,
    system: np.ndarray,
    net: np.ndarray,
) -> None:
    """Agent-framework users: each message runs a short tool loop; the system prompt is shared."""
    par = world.sc.archetypes["agent_framework"]
    k = len(accts)
    acct_arr = np.asarray(accts, dtype=np.int64)
    tz = np.array([world.accounts[i].tz for i in accts])
    per_day = pick_n(rng, par["sessions_per_day"], k)
    who, starts = sessions_batch(
        rng, world.t0, world.t1, per_day, tz, np.full(k, 15.0), np.full(k, 0.1)
    )
    msgs = rng.geometric(1.0 / pick_n(rng, par["messages_per_session"], k)[who])
    msg_ts, msg_session, _ = expand(rng, starts, msgs, 60.0, 0.9)
    steps = rng.geometric(1.0 / pick_n(rng, par["steps_per_message"], k)[who][msg_session])
    step_gap = pick_n(rng, par["step_gap_s"], k)[who][msg_session]
    ts, msg, step = expand(rng, msg_ts, steps, step_gap, 0.5)
    session = msg_session[msg]
    n = len(ts)
    turn = np.arange(n) - np.searchsorted(session, session) + 1
    ev_who = who[session]
    ptab, ctab = TABLES["agent"]
    family = np.array(
        [world.clients.pick("framework" if rng.random() < 0.85 else "sdk") for _ in range(k)]
    )
    world.emit_many(
        acct_arr[ev_who],
        ts,
        model=model_choice(world, rng, ts, rng.integers(0, len(world.sc.models), k)[ev_who]),
        ptok=sample_tokens(rng, ptab, n, 0.3) + 40 * turn,
        ctok=sample_tokens(rng, ctab, n, 0.6),
        maxtok=np.array([2048, 4000, 4096, 8192])[rng.integers(0, 4, k)][ev_who],
        prompt=np.where(step == 1, choose(rng, pools.chat, n), choose(rng, pools.tool, n)),
        system=system[ev_who],
        conv=world.new_convs(len(starts))[session],
        turn=turn,
        net=net[ev_who],
        client=family[ev_who],
    )
