"""Traffic simulator: benign archetypes and labelled distillation campaigns as event-v1 dicts."""

from __future__ import annotations

from app.sim.generate import Simulation, generate
from app.sim.scenario import Scenario, builtin_scenarios, load_scenario, scenario_from_dict
from app.sim.textbank import load_prompts

__all__ = [
    "Scenario",
    "Simulation",
    "builtin_scenarios",
    "generate",
    "load_prompts",
    "load_scenario",
    "scenario_from_dict",
]
