"""The per-account stage: update features per event, score at a bounded rate, emit signals.

Per event the work is O(1): a state update of plain floats. The rule score runs every few
events of an account (or on every event of a slow account); the River population model runs
at most once per account per ``model_every_s`` of event time. Scores come before learning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from app.core.coordination_keys import signal_from_event
from app.core.features import EVIDENCE_CAP, HARVEST, AccountState, client_hash
from app.core.models import PopulationModel
from app.core.population import DATACENTER_ASNS, ClientStacks, ModelCatalog, client_family
from app.core.scoring import (
    EVIDENCE_FLOOR,
    ScoreWeights,
    evidence,
    families,
    identity_prior,
    rate_per_min,
    risk,
    shape_weight,
    summary,
)
from app.core.types import AccountSignal, Detection
from app.events import Event

DETECTOR: Final = "account-extraction"
MAX_FAMILIES_CACHED: Final = 4096
# A harvest-shaped request sent from another client stack than the account's usual one
# counts, in its coordination signal, as this much harvest evidence at least.
SIDE_HARVEST: Final = 0.2


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """Tunables of the per-account stage (defaults are the documented operating point)."""

    alert_threshold: float = 0.8  # risk at which an account detection is emitted
    clear_threshold: float = 0.3  # risk under which a flagged account may re-arm
    rearm_after_s: float = 6 * 3600.0  # quiet time before a cleared account may alert afresh
    min_events: int = 2  # never alert on fewer events than this
    eval_every: int = 3  # score every N events of a busy account
    eval_gap_s: float = 30.0  # ... and every event that follows a pause this long
    refresh_s: float = 600.0  # re-emit a standing detection this often (keeps findings fresh)
    model_every_s: float = 600.0  # population model at most once per account per this time
    model_every_events: int = 32  # ... and per this many events of the account
    signal_every_s: float = 300.0  # account signals at most this often, unless risk jumps
    side_signal_s: float = 60.0  # ... or a harvest request comes from another client stack
    established_days: float = 30.0  # accounts this old teach which client stacks are normal
    datacenter_asns: frozenset[int] = DATACENTER_ASNS
    weights: ScoreWeights = field(default_factory=ScoreWeights)


class AccountDetector:
    """Per-account features, rule score and population model; one instance per partition."""

    def __init__(self, config: AccountConfig | None = None, seed: int = 42) -> None:
        self.config = config or AccountConfig()
        self.seed = seed
        self.accounts: dict[str, AccountState] = {}
        self.catalog = ModelCatalog()
        self.stacks = ClientStacks()
        self.population = PopulationModel(seed=seed)
        self._families: dict[str, str] = {}

    def _mismatch(self, ev: Event, first: bool) -> bool:
        ua, tls = ev.user_agent, ev.tls_fp
        if not ua or not tls:
            return False
        fam = self._families.get(ua)
        if fam is None:
            fam = client_family(ua)
            if len(self._families) < MAX_FAMILIES_CACHED:
                self._families[ua] = fam
        if first:
            created = ev.account_created_ts
            if created is None or ev.ts - created >= self.config.established_days * 86400.0:
                self.stacks.learn(fam, tls)
        return self.stacks.mismatch(fam, tls)

    def process(self, ev: Event) -> tuple[list[Detection], AccountSignal | None]:
        """Fold one event into its account; return detections and maybe a signal."""
        cfg = self.config
        st = self.accounts.get(ev.account_id)
        if st is None:
            st = self.accounts[ev.account_id] = AccountState()
        gap = ev.ts - st.last_ts
        client = client_hash(ev)
        # A harvest-shaped request from a client other than the account's usual one: the
        # side channel of an account that harvests among its own legitimate traffic. Its
        # client and network are news for coordination even if a signal went out recently.
        side = (
            ev.flags & HARVEST != 0
            and st.cc > 0
            and client != st.cl
            and ev.ts - st.sig_ts >= cfg.side_signal_s
        )
        asn = ev.asn
        st.update(
            ev,
            self.catalog.is_new(ev.model, ev.ts),
            asn is not None and asn in cfg.datacenter_asns,
            self._mismatch(ev, st.n == 0),
            client,
        )
        n = st.n
        if n - st.eval_n < cfg.eval_every and gap < cfg.eval_gap_s and not side:
            return [], None
        return self._evaluate(st, ev, side)

    def _evaluate(
        self, st: AccountState, ev: Event, side: bool = False
    ) -> tuple[list[Detection], AccountSignal | None]:
        cfg = self.config
        now = ev.ts
        st.eval_n = st.n
        if st.n - st.model_n >= cfg.model_every_events and now - st.model_ts >= cfg.model_every_s:
            st.model_ts, st.model_n = now, st.n
            st.pop = self.population.score_then_learn(summary(st, now), flagged=st.alert_ts > 0.0)
        before = st.risk
        if st.alert_ts == 0.0 and st.ev < EVIDENCE_FLOOR:
            # Without request evidence no combination reaches an alert: skip the scoring.
            st.risk = score = 0.0
            fam: tuple[float, ...] = ()
        else:
            fam = families(st, now)
            st.risk = score = risk(fam, cfg.weights)
        detections: list[Detection] = []
        if score >= cfg.alert_threshold and st.n >= cfg.min_events:
            if st.alert_ts == 0.0:
                st.alert_ts = now
                emit = True
            else:
                emit = score >= st.alert_risk + 0.1 or now - st.alert_last_ts >= cfg.refresh_s
            if emit:
                st.alert_last_ts = now
                st.alert_risk = max(st.alert_risk, score)
                detections.append(self._detection(st, ev, fam, score))
        elif (
            st.alert_ts
            and score < cfg.clear_threshold
            and now - st.alert_last_ts >= cfg.rearm_after_s
        ):
            st.alert_ts = st.alert_risk = 0.0
        signal = None
        jumped = (before < cfg.alert_threshold) != (score < cfg.alert_threshold)
        if st.sig_n == 0 or jumped or side or now - st.sig_ts >= cfg.signal_every_s:
            signal = self._signal(st, ev, side, fam)
        return detections, signal

    def _detection(
        self, st: AccountState, ev: Event, fam: tuple[float, ...], score: float
    ) -> Detection:
        base = self.population.means
        return Detection(
            detector=DETECTOR,
            subject=ev.account_id,
            score=round(score, 4),
            ts=ev.ts,
            first_seen=st.alert_ts,
            evidence=evidence(st, ev.ts, fam, self.config.weights, base),
            accounts=[ev.account_id],
            total_accounts=1,
            labels={"model": ev.model, "shape": _shape_label(st)},
        )

    def _signal(
        self, st: AccountState, ev: Event, side: bool = False, fam: tuple[float, ...] = ()
    ) -> AccountSignal:
        now = ev.ts
        # Side-channel evidence is corroborated by its second client stack; the account's
        # own counts as much as it tells of harvesting (see ``shape_weight``).
        main = st.ev
        if main > 0.0:
            main *= shape_weight(
                st, fam[2] if fam else identity_prior(st, now), fam[3] if fam else 0.0
            )
        harvest = (main if main >= st.sv else st.sv) / EVIDENCE_CAP
        if side and harvest < SIDE_HARVEST:
            harvest = SIDE_HARVEST
        events = st.n - st.sig_n
        st.sig_n, st.sig_ts = st.n, now
        return signal_from_event(
            ev,
            events=events,
            risk=st.risk,
            harvest=harvest,
            features={
                "rate_per_min": rate_per_min(st, now),
                "new_model": st.nm,
                "datacenter": st.dc,
                "ua_tls_mismatch": st.mm,
                "long_completions": st.lg,
                "single_turn": st.sg,
                "harvest_share": st.hv if st.hv >= st.ag else st.ag,
            },
        )


def _shape_label(st: AccountState) -> str:
    """Name the harvest shape that dominates an account's traffic, for the finding title."""
    if st.ag >= 0.5:
        return "agentic-coding"
    if st.hv >= 0.3:
        return "reasoning-harvest"
    if st.tp >= 0.5:
        return "templated-extraction"
    return "output-extraction"
