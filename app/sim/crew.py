"""What every campaign shares: recruiting accounts, harvest prompts, tokens, clients."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from app.sim.harvest import compose
from app.sim.scenario import CampaignSpec, Range
from app.sim.words import SENSITIVE
from app.sim.world import World, choose, pick

# max_tokens values people actually configure; campaigns use them too.
COMMON_MAX_TOKENS = (1024, 2048, 4000, 4096, 8000, 8192, 16000, 16384, 32000)
_CLAIMED = ["US", "US", "US", "GB", "CA", "DE", "SG", "NL", "JP", "AU"]


@dataclass(slots=True)
class Crew:
    """A campaign's accounts and the traits they share."""

    spec: CampaignSpec
    par: dict[str, Range]
    rng: np.random.Generator
    r: random.Random
    start: float
    end: float
    accounts: list[int] = field(default_factory=list)
    clients: list[int] = field(default_factory=list)
    fav_model: int = 0
    max_tokens: int = 8192
    conv_ids: bool = True
    templates: dict[str, list[str]] = field(default_factory=dict)

    def p(self, name: str) -> float:
        """Draw this campaign's value of parameter ``name``."""
        return pick(self.rng, self.par[name])


def recruit(world: World, spec: CampaignSpec, n: int | None = None) -> Crew:
    """Create the campaign's accounts: mostly new sign-up cohorts, some sharing a card."""
    tag = f"campaign:{spec.id}"
    crew = Crew(
        spec,
        spec.params,
        world.rng(tag),
        world.rand(tag),
        world.t0 + spec.start_hours * 3600,
        world.t0 + spec.end_hours * 3600,
    )
    rng = crew.rng
    count = n if n is not None else max(1, round(pick(rng, spec.accounts)))
    new_share, cohort_days = crew.p("new_share"), crew.p("cohort_days")
    cohorts = crew.start - rng.uniform(0.02, cohort_days, max(1, count // 40)) * 86400
    cards = [
        world.hexid("pm_", 8) for _ in range(max(1, round(count / crew.p("cards_per_payment"))))
    ]
    shared = crew.p("payment_shared")
    for _ in range(count):
        if rng.random() < new_share:
            created = float(cohorts[rng.integers(len(cohorts))] + rng.uniform(0, 3 * 3600))
            created = min(created, crew.start - 600)
        else:
            created = world.created(rng, False)
        payment = cards[rng.integers(len(cards))] if rng.random() < shared else "new"
        cc = _CLAIMED[rng.integers(len(_CLAIMED))]
        crew.accounts.append(world.add_account(spec.id, created, cc, 0.0, payment_fp=payment))
    spoof = rng.random() < crew.p("spoof_ua")
    for _ in range(int(rng.integers(1, 3))):
        crew.clients.append(
            world.clients.pick("browser", tls_override="python")
            if spoof
            else world.clients.pick(str(rng.choice(["sdk", "script"])))
        )
    n_old = len(world.sc.models)
    crew.fav_model = int(rng.choice([n_old - 1, n_old - 1, int(rng.integers(n_old))]))
    want = crew.p("max_tokens")
    crew.max_tokens = min(COMMON_MAX_TOKENS, key=lambda m: abs(m - want))  # what SDK users type
    crew.conv_ids = rng.random() < 0.5
    return crew


def harvest_pool(
    world: World, crew: Crew, n: int, family: str, tasks: list[str] | None = None
) -> np.ndarray:
    """Prompt indices for ``n`` requests: the campaign's few templates around harvested tasks."""
    chosen = crew.templates.get(family)
    if chosen is None:  # the campaign settles on a few templates of its own, once
        chosen = crew.templates[family] = [
            compose(crew.r, family) for _ in range(max(1, round(crew.p("templates"))))
        ]
    return world.bank.wrapped(chosen, tasks or world.tasks, min(max(n, 1), 6000))


def cot_mix(
    world: World, crew: Crew, n: int, rubric: float = 0.0, rewrite: float = 0.0
) -> np.ndarray:
    """Harvest prompts for ``n`` requests: CoT elicitation, rubric grading and safe rewrites."""
    rng = crew.rng
    cot = harvest_pool(world, crew, n, "cot")
    rub = harvest_pool(world, crew, max(1, int(n * rubric)), "rubric")
    rew = harvest_pool(world, crew, max(1, int(n * rewrite)), "rewrite", list(SENSITIVE))
    u = rng.random(n)
    return np.select(
        [u < rubric, u < rubric + rewrite],
        [choose(rng, rub, n), choose(rng, rew, n)],
        choose(rng, cot, n),
    )


def harvest_tokens(crew: Crew, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Prompt and completion tokens of harvest requests: written-out reasoning runs long."""
    rng = crew.rng
    prompt = np.maximum(20, crew.p("prompt_tokens") * rng.lognormal(0, 0.4, n)).astype(np.int64)
    comp = np.minimum(crew.max_tokens, crew.p("completion_tokens") * rng.lognormal(0, 0.6, n))
    return prompt, comp.astype(np.int64)


def crew_net(world: World, crew: Crew, exits: list[int] | None = None) -> int:
    """One account's source address: a datacenter host or a proxy exit."""
    if exits and crew.rng.random() >= crew.p("datacenter_share"):
        return int(crew.rng.choice(exits))
    return world.nets.datacenter()


def conv_fields(world: World, crew: Crew, n: int) -> dict[str, object]:
    """Conversation id and turn for single-turn harvest requests (if the crew sends them)."""
    if not crew.conv_ids:
        return {}
    return {"conv": world.new_convs(n), "turn": 1}
