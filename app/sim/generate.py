"""Generate a scenario: the benign population, the campaigns, then events in event-time order.

``generate`` plans every event up front (columns of numbers), so the ground truth is complete
as soon as it returns; the event dicts are built lazily, in event-time order, while iterating.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from app.sim import campaigns as kinds
from app.sim.benign import populate_benign
from app.sim.crew import Crew
from app.sim.scenario import Scenario
from app.sim.world import World, pick

CHUNK = 32_768
# Decode speed per output token (ms) by model family; new releases are the slowest.
_TPOT = {"haiku": 7.0, "sonnet": 15.0, "opus": 28.0}


class Simulation:
    """A planned scenario: every event as columns, the accounts, and the ground truth."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int | None = None,
        prompts: list[str] | None = None,
        start_ts: float | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        world = self.world = World(scenario, self.seed, start_ts, prompts)
        rng = world.rng("proxies")
        hydras = [c for c in scenario.campaigns if c.kind == "hydra"]
        providers = [
            world.nets.proxy_exits(round(pick(rng, c.params["exits"])), 0.15) for c in hydras
        ]
        providers.append(world.nets.proxy_exits(int(rng.integers(60, 200)), 0.15))
        pools = populate_benign(world, providers)
        days = (world.t1 - world.t0) / 86400.0
        rates = [a.events / days for a in world.accounts if a.events]
        self.benign_median_per_day = float(np.median(rates)) if rates else 1.0
        self.crews: list[Crew] = []
        for spec in scenario.campaigns:
            exits = providers[hydras.index(spec)] if spec in hydras else providers[-1]
            if spec.kind == "hydra":
                crew = kinds.hydra(world, spec, exits, self.benign_median_per_day)
            elif spec.kind == "cot-harvest":
                crew = kinds.cot_harvest(world, spec, exits)
            elif spec.kind == "agentic-coding":
                crew = kinds.agentic_coding(world, spec, exits, pools)
            elif spec.kind == "release-pivot":
                crew = kinds.release_pivot(world, spec, exits)
            elif spec.kind == "blended":
                crew = kinds.blended(world, spec, pools, pools.tool)
            else:
                crew = kinds.scraper(world, spec)
            self.crews.append(crew)
        self.cols = world.finish()
        self._finalize()
        self.order = np.argsort(self.cols["ts"], kind="stable")
        self.tag = f"{zlib.crc32(f'{scenario.name}:{self.seed}'.encode()):08x}"

    def _finalize(self) -> None:
        """Errors and latency, for all events at once."""
        c, rng = self.cols, self.world.rng("finalize")
        n = len(c["ts"])
        c["ctok"] = np.minimum(c["ctok"], c["maxtok"])
        u = rng.random(n)
        ok = c["status"] == 200
        status = np.select([u < 0.003, u < 0.004, u < 0.0055], [529, 500, 400], 200)
        c["status"] = np.where(ok, status, c["status"]).astype(np.int16)
        failed = c["status"] != 200
        c["ctok"] = np.where(failed, 0, c["ctok"])
        tpot = np.array(
            [next((v for k, v in _TPOT.items() if k in m), 15.0) for m in self.world.models]
        )
        if self.world.new_model >= 0:
            tpot[self.world.new_model] = 30.0
        ttft = (250.0 + 0.012 * c["ptok"]) * rng.lognormal(0, 0.3, n)
        latency = ttft + c["ctok"] * tpot[c["model"]] * rng.lognormal(0, 0.2, n)
        c["latency"] = np.round(np.where(failed, rng.uniform(40, 2000, n), latency), 1)

    @property
    def n_events(self) -> int:
        """Number of events the iterator yields."""
        return len(self.order)

    def truth(self) -> dict[str, Any]:
        """Ground truth: campaigns with their accounts, and every account's role."""
        w = self.world
        active = {a.account_id: {"role": a.role} for a in w.accounts if a.events}
        camps = [
            {
                "id": crew.spec.id,
                "kind": crew.spec.kind,
                "start_ts": crew.start,
                "end_ts": crew.end,
                "accounts": [
                    w.accounts[i].account_id for i in crew.accounts if w.accounts[i].events
                ],
            }
            for crew in self.crews
        ]
        release = None
        if w.release_ts is not None and self.scenario.release is not None:
            release = {"model": self.scenario.release.model, "ts": w.release_ts}
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "start_ts": w.t0,
            "end_ts": w.t1,
            "models": w.models,
            "release": release,
            "events": self.n_events,
            "benign_median_requests_per_day": round(self.benign_median_per_day, 4),
            "campaigns": camps,
            "accounts": active,
        }

    def events(self, raw_text: bool = True) -> Iterator[dict[str, Any]]:
        """Yield event-v1 dicts in event-time order."""
        from app.sim.emit import iter_events

        return iter_events(self, raw_text)


def generate(
    scenario: Scenario,
    seed: int | None = None,
    raw_text: bool = True,
    prompts: list[str] | None = None,
    start_ts: float | None = None,
) -> tuple[Iterator[dict[str, Any]], dict[str, Any]]:
    """Plan ``scenario`` and return (event iterator in event-time order, complete ground truth)."""
    sim = Simulation(scenario, seed, prompts, start_ts)
    return sim.events(raw_text), sim.truth()
