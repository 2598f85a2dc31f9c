"""Per-account risk: a conjunction of behaviour families, each a soft 0..1 indicator.

No single family can raise an alert on its own. Harvest-shaped traffic (extraction-style
content, or one template reused over and over) is the gate; what turns it into a finding is
corroboration: output-heavy single-turn use, weak identity, machine timing, a change against
the account's own baseline, newest-model focus, or an unusual place in the population.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from app.core.features import EVIDENCE_CAP, TAU_SHORT_S, AccountState
from app.core.types import Evidence


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    """Log-odds terms of the account risk; the bias keeps an account without evidence quiet."""

    bias: float = -6.0
    strong: float = 1.0  # per strongly harvest-shaped request in the last day (four at most)
    identity: float = 1.0  # scales the weak-identity prior
    timing: float = 0.5  # machine-regular gaps, sustained volume, no rest
    model: float = 0.5  # concentration on a newly released model
    change: float = 0.5  # shift against the account's own baseline
    population: float = 0.5  # the population model finds the summary anomalous


EVIDENCE_FLOOR: Final = 1.0  # request evidence under which no combination can reach an alert
IDENTITY_CAP: Final = 3.0  # most the weak-identity prior can add
WEAK_IDENTITY: Final = 1.5  # prior at which an identity counts as weak: its evidence counts at once
SUSTAIN_MIN = (5.0, 30.0)  # minutes over which an established account's episode comes to count
CONTENT_SHARE = (0.1, 0.3)  # recent share of harvest-shaped asks that corroborates long outputs
CODE_SHARE_WEIGHT: Final = 0.5  # code and tool asks corroborate at twice that share
# share of an established account's evidence that counts uncorroborated
UNCORROBORATED: Final = 0.25
# ... and of a weak identity's (it counts at once, but not in full)
UNCORROBORATED_WEAK: Final = 0.5


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
        "long_completions": state.lg,
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


def identity_prior(state: AccountState, now: float) -> float:
    """Return the weak-identity prior in log-odds: new account, hosting network, spoofed client."""
    age = age_days(state, now)
    young = 0.0 if age < 0 else 2.0 * ramp(30.0 - age, 0.0, 29.0)
    weak = (
        young
        + 0.5 * ramp(state.dc, 0.3, 0.8)
        + 1.0 * ramp(state.mm, 0.2, 0.6)
        + 0.3 * ramp(state.ch, 0.3, 0.8)
    )
    return weak if weak < IDENTITY_CAP else IDENTITY_CAP


def sustained(state: AccountState, now: float) -> float:
    """Return how long (0..1) the current episode of harvest-shaped traffic has lasted."""
    if state.ev <= 0.0:
        return 0.0
    return ramp((now - state.ev_ts) / 60.0, SUSTAIN_MIN[0], SUSTAIN_MIN[1])


def corroboration(state: AccountState, timing: float) -> float:
    """Return how far (0..1) an account's recent traffic is harvest-shaped in what it asks,
    not only in what it gets back: extraction content, agentic use or a reused template in
    a fair share of recent requests, or machine timing. Long answers to a person's own
    questions, with a harvest-shaped request now and then, are ordinary use; so is asking
    for code, which corroborates only at twice the share (``CODE_SHARE_WEIGHT``)."""
    content = max(state.hv, CODE_SHARE_WEIGHT * state.ag, state.tp)
    return max(ramp(content, CONTENT_SHARE[0], CONTENT_SHARE[1]), timing)


def _counted(corroborated: float, floor: float = UNCORROBORATED) -> float:
    """Share of an account's evidence that counts: ``floor`` uncorroborated, up to all."""
    return floor + (1.0 - floor) * corroborated


def _weakness(identity: float) -> float:
    """How weak (0..1) an identity is, from its prior: 1 from WEAK_IDENTITY up."""
    return identity / WEAK_IDENTITY if identity < WEAK_IDENTITY else 1.0


def effective_evidence(state: AccountState, now: float, identity: float, timing: float) -> float:
    """Return the request evidence that counts: for a weak identity at once, half of it
    unless the traffic is corroborated (see :func:`corroboration`); for an established one
    only as the episode is sustained (a benchmark burst is short), and a quarter of it
    unless corroborated."""
    weak = _weakness(identity)
    corroborated = corroboration(state, timing)
    at_once = _counted(corroborated, UNCORROBORATED_WEAK)
    if weak >= 1.0:
        return state.ev * at_once
    held = sustained(state, now) * _counted(corroborated)
    return state.ev * (weak * at_once + (1.0 - weak) * held)


def shape_weight(state: AccountState, identity: float, timing: float) -> float:
    """Return the share (0.25..1) of an account's request evidence that tells of harvesting
    to coordination: for an established account a quarter unless corroborated (as in
    :func:`effective_evidence`, without the episode's length, which a group measures in its
    own way), and all of it for a weak identity: the group weighs newness itself."""
    weak = _weakness(identity)
    if weak >= 1.0:
        return 1.0
    return weak + (1.0 - weak) * _counted(corroboration(state, timing))


def families(state: AccountState, now: float) -> tuple[float, ...]:
    """Return each term of the risk, in :data:`FAMILY_NAMES` order (log-odds before weights)."""
    strong = state.hs if state.hs < 4.0 else 4.0
    regular = ramp(1.0 - state.gap_spread(), 0.2, 0.8) if state.n >= 8 else 0.0
    volume = ramp(rate_per_min(state, now), 5.0, 40.0)
    rest = ramp((now - state.streak_ts) / 3600.0, 12.0, 20.0)
    timing = max(regular, volume, rest)
    model = ramp(state.nm, 0.3, 0.8)
    if state.n >= 60:
        shift = max(state.hv - state.b_hv, state.mx - state.b_mx, (state.ot - state.b_ot) / 4.0)
        change = ramp(shift, 0.15, 0.45)
    else:
        change = 0.0
    population = ramp(state.pop, 0.7, 0.95)
    identity = identity_prior(state, now)
    evidence = effective_evidence(state, now, identity, timing)
    return (evidence, strong, identity, timing, model, change, population)


FAMILY_NAMES = ("evidence", "strong", "identity", "timing", "model", "change", "population")


def risk(fam: tuple[float, ...], w: ScoreWeights) -> float:
    """Combine the terms into a 0..1 risk (a logistic of the summed log-odds)."""
    evidence, strong, identity, timing, model, change, population = fam
    logit = (
        w.bias
        + evidence
        + w.strong * strong
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
    ev, strong, identity = fam[0], fam[1], fam[2]
    shape = ev / EVIDENCE_CAP
    rows = [
        ("request_evidence", state.ev, 0.0, ev),
        ("harvest_episode_min", (now - state.ev_ts) / 60.0 if state.ev > 0 else 0.0, 0.0, 0.0),
        ("strong_harvest_requests_24h", state.hs, 0.0, w.strong * strong),
        ("harvest_share", state.hv, state.b_hv, shape * 2.0 * state.hv),
        (
            "long_completion_share",
            state.lg,
            base.get("long_completions", 0.0),
            shape * 1.6 * state.lg,
        ),
        ("max_tokens_hit_share", state.mx, state.b_mx, shape * state.mx),
        ("output_ratio_log2", state.ot, state.b_ot, shape * ramp(state.ot, 0.0, 4.0)),
        ("single_turn_share", state.sg, base.get("single_turn", 0.0), shape * 0.6 * state.sg),
        ("template_reuse", state.tp, base.get("template", 0.0), shape * state.tp),
        ("account_age_days", age, 30.0, 0.0 if age < 0 else 2.0 * ramp(30.0 - age, 0.0, 29.0)),
        ("datacenter_share", state.dc, base.get("datacenter", 0.0), 0.5 * ramp(state.dc, 0.3, 0.8)),
        (
            "ua_tls_mismatch_share",
            state.mm,
            base.get("ua_tls_mismatch", 0.0),
            ramp(state.mm, 0.2, 0.6),
        ),
        ("ip_churn_share", state.ch, base.get("ip_churn", 0.0), 0.3 * ramp(state.ch, 0.3, 0.8)),
        ("gap_spread_log", state.gap_spread(), 1.3, w.timing * fam[3]),
        ("requests_per_min", rate_per_min(state, now), 0.0, w.timing * fam[3]),
        ("new_model_share", state.nm, base.get("new_model", 0.0), w.model * fam[4]),
        ("baseline_shift", fam[5], 0.0, w.change * fam[5]),
        ("population_anomaly", state.pop, 0.5, w.population * fam[6]),
    ]
    del identity
    out = [
        Evidence(name, value, baseline, weight)
        for name, value, baseline, weight in rows
        if weight > 0.05
    ]
    out.sort(key=lambda e: e.weight, reverse=True)
    return out[:6]
