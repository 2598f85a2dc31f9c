"""Per-account risk: a conjunction of behaviour families, each a soft 0..1 indicator.

No single family can raise an alert on its own. Harvest-shaped traffic (extraction-style
content, or one template reused over and over) is the gate; what turns it into a finding is
corroboration: output-heavy single-turn use, weak identity, machine timing, a change against
the account's own baseline, newest-model focus, or an unusual place in the population.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.core.features import TAU_SHORT_S, AccountState
from app.core.types import Evidence


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    """Log-odds contributions of each family; the bias keeps a quiet account near zero."""

    bias: float = -7.0
    shape: float = 3.0  # harvest-shaped content or template reuse
    output: float = 1.5  # completion-heavy, max_tokens cut-offs
    single: float = 1.0  # single-turn requests
    identity: float = 2.0  # new account, datacenter network, spoofed client stack, IP churn
    timing: float = 1.0  # machine-regular gaps, sustained volume, no rest
    model: float = 0.8  # concentration on a newly released model
    change: float = 2.0  # shift against the account's own baseline
    population: float = 1.0  # the population model finds the summary anomalous
    history: float = 1.5  # harvest-shaped requests accumulated over hours


def ramp(x: float, lo: float, hi: float) -> float:
    """Map ``x`` linearly from [lo, hi] onto [0, 1], clamped."""
    if x <= lo:
        return 0.0
    if x >= hi:
        return 1.0
    return (x - lo) / (hi - lo)


def age_days(state: AccountState, now: float) -> float:
    """Return the account's age in days, or -1 when the creation time is unknown."""
    if state.created_ts < 0.0:
        return -1.0
    return max(0.0, (now - state.created_ts) / 86400.0)


def rate_per_min(state: AccountState, now: float) -> float:
    """Return the account's request rate over the last few minutes (requests per minute)."""
    decay = math.exp(-max(0.0, now - state.last_ts) / TAU_SHORT_S)
    return state.rs * decay * 60.0 / TAU_SHORT_S


def summary(state: AccountState, now: float) -> dict[str, float]:
    """Return the account's features scaled into [0, 1] (population model input)."""
    age = age_days(state, now)
    return {
        "rate": min(1.0, math.log1p(rate_per_min(state, now)) / math.log1p(600.0)),
        "harvest": state.hv,
        "agentic": state.ag,
        "template": state.tp,
        "single_turn": state.sg,
        "max_tokens_hit": state.mx,
        "output_ratio": ramp(state.ot, -4.0, 6.0),
        "new_model": state.nm,
        "datacenter": state.dc,
        "ua_tls_mismatch": state.mm,
        "ip_churn": state.ch,
        "regular_timing": ramp(2.0 - state.gap_spread(), 0.0, 2.0) if state.n >= 8 else 0.5,
        "new_account": 0.5 if age < 0 else ramp(30.0 - age, 0.0, 30.0),
    }


def families(state: AccountState, now: float) -> tuple[float, ...]:
    """Return the 0..1 strength of each behaviour family, in :data:`FAMILY_NAMES` order."""
    content = ramp(state.hv, 0.15, 0.5)
    template = ramp(state.tp, 0.3, 0.75)
    shape = content if content > template else template
    output = max(ramp(state.mx, 0.1, 0.4), ramp(state.ot, 1.5, 4.0))
    single = ramp(state.sg, 0.7, 0.97)
    age = age_days(state, now)
    young = 0.0 if age < 0 else ramp(14.0 - age, 0.0, 13.0)
    identity = min(
        1.0,
        young
        + 0.5 * ramp(state.dc, 0.3, 0.8)
        + 0.5 * ramp(state.mm, 0.3, 0.8)
        + 0.3 * ramp(state.ch, 0.3, 0.8),
    )
    regular = ramp(1.0 - state.gap_spread(), 0.2, 0.8) if state.n >= 8 else 0.0
    volume = ramp(rate_per_min(state, now), 5.0, 40.0)
    rest = ramp((now - state.streak_ts) / 3600.0, 12.0, 20.0)
    timing = max(regular, volume, rest)
    model = ramp(state.nm, 0.3, 0.8)
    if state.n >= 60:
        shift = max(state.hv - state.b_hv, state.tp - state.b_tp, state.mx - state.b_mx)
        change = ramp(shift, 0.15, 0.45)
    else:
        change = 0.0
    population = ramp(state.pop, 0.7, 0.95)
    history = ramp(state.hc, 10.0, 40.0)
    return (shape, output, single, identity, timing, model, change, population, history)


FAMILY_NAMES = (
    "shape",
    "output",
    "single",
    "identity",
    "timing",
    "model",
    "change",
    "population",
    "history",
)


def risk(fam: tuple[float, ...], w: ScoreWeights) -> float:
    """Combine family strengths into a 0..1 risk; without harvest shape it stays low."""
    shape, output, single, identity, timing, model, change, population, history = fam
    logit = (
        w.bias
        + w.shape * shape
        + shape * (w.output * output + w.single * single + w.history * history)
        + w.identity * identity
        + w.timing * timing
        + w.model * model
        + w.change * change
        + w.population * population
    )
    return 1.0 / (1.0 + math.exp(-logit))


def evidence(
    state: AccountState, now: float, fam: tuple[float, ...], w: ScoreWeights, base: dict[str, float]
) -> list[Evidence]:
    """Return the evidence behind a score, strongest first (value against baseline)."""
    age = age_days(state, now)
    rows = [
        ("harvest_share", state.hv, state.b_hv, w.shape * fam[0]),
        ("template_reuse", state.tp, state.b_tp, w.shape * fam[0]),
        ("max_tokens_hit_share", state.mx, state.b_mx, w.output * fam[1] * fam[0]),
        ("output_ratio_log2", state.ot, state.b_ot, w.output * fam[1] * fam[0]),
        ("single_turn_share", state.sg, base.get("single_turn", 0.0), w.single * fam[2] * fam[0]),
        ("account_age_days", age, 30.0, w.identity * fam[3]),
        ("datacenter_share", state.dc, base.get("datacenter", 0.0), w.identity * fam[3]),
        ("ua_tls_mismatch_share", state.mm, base.get("ua_tls_mismatch", 0.0), w.identity * fam[3]),
        ("ip_churn_share", state.ch, base.get("ip_churn", 0.0), w.identity * fam[3]),
        ("gap_spread_log", state.gap_spread(), 1.3, w.timing * fam[4]),
        ("requests_per_min", rate_per_min(state, now), 0.0, w.timing * fam[4]),
        ("new_model_share", state.nm, base.get("new_model", 0.0), w.model * fam[5]),
        ("baseline_shift", fam[6], 0.0, w.change * fam[6]),
        ("population_anomaly", state.pop, 0.5, w.population * fam[7]),
        ("harvest_requests_6h", state.hc, 0.0, w.history * fam[8] * fam[0]),
    ]
    out = [
        Evidence(name, value, baseline, weight)
        for name, value, baseline, weight in rows
        if weight > 0.05
    ]
    out.sort(key=lambda e: e.weight, reverse=True)
    return out[:6]
