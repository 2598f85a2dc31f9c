"""Who benign accounts are: country and time zone, sign-up, addresses, and model choice."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.sim.words import COUNTRIES
from app.sim.world import World, pick, pick_n

_CC = [c[0] for c in COUNTRIES]
_CC_CUM = np.cumsum([c[1] for c in COUNTRIES]) / sum(c[1] for c in COUNTRIES)
_TZ = {c[0]: c[2] for c in COUNTRIES}


def new_benign(
    world: World, rng: np.random.Generator, role: str, country: str | None = None
) -> int:
    """Register a benign account: country, time zone, sign-up (some are new), payment."""
    pop = world.sc.archetypes["population"]
    cc = country or _CC[min(int(np.searchsorted(_CC_CUM, rng.random())), len(_CC) - 1)]
    new = rng.random() < pick(rng, pop["new_share"])
    created = world.created(rng, new, pick(rng, pop["signup_in_window_share"]))
    payment: str | None = "new"
    u = rng.random()
    if u < 0.04:  # invoiced, no card on file
        payment = None
    elif u < 0.08:  # a team or family card that pays for a few unrelated-looking accounts
        if world.team_cards and rng.random() < 0.75:
            payment = world.team_cards[int(rng.integers(len(world.team_cards)))]
        else:
            payment = world.hexid("pm_", 8)
            world.team_cards.append(payment)
    return world.add_account(
        role, created, cc, _TZ.get(cc, 0.0) + rng.uniform(-1, 1), payment_fp=payment
    )


def home_net(world: World, rng: np.random.Generator, acct: int) -> int:
    """A residential address, or a cloud VM for a few users."""
    pop = world.sc.archetypes["population"]
    if rng.random() < pick(rng, pop["datacenter_share"]):
        return world.nets.datacenter()
    return world.nets.residential(world.accounts[acct].country)


def model_choice(
    world: World,
    rng: np.random.Generator,
    ts: np.ndarray,
    fav: np.ndarray | int,
    try_share: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Per-event model: a favourite, sometimes another, the new model after the release."""
    n, n_old = len(ts), len(world.sc.models)
    model = np.where(rng.random(n) < 0.85, fav, rng.integers(0, n_old, n))
    if world.release_ts is not None:
        adopt = pick_n(rng, world.sc.archetypes["population"]["adoption_share"], n)
        after = ts >= world.release_ts
        day1 = after & (ts < world.release_ts + 86400.0)
        share = np.where(day1, np.maximum(adopt, try_share), adopt)
        model = np.where(after & (rng.random(n) < share), world.new_model, model)
    return model


@dataclass(slots=True)
class NetChoice:
    """Per-account lists of source addresses (flattened), one picked per session."""

    flat: np.ndarray
    off: np.ndarray
    size: np.ndarray

    @classmethod
    def of(cls, lists: list[list[int]]) -> NetChoice:
        """Build from one list of net indices per account."""
        size = np.array([len(x) for x in lists], dtype=np.int64)
        return cls(
            np.array([n for x in lists for n in x], dtype=np.int64), np.cumsum(size) - size, size
        )

    def draw(self, rng: np.random.Generator, who: np.ndarray) -> np.ndarray:
        """One net per row for the accounts at positions ``who``."""
        return self.flat[self.off[who] + (rng.random(len(who)) * self.size[who]).astype(np.int64)]
