"""Per-account online features: fixed-size state, O(1) work per event, compact to serialise.

Two horizons per behaviour: a short exponentially weighted share (what the account does now)
and a slow one (its own baseline), so a change against the account's own history shows.
Rates are exponentially decayed counts over event time. Templates are tracked by a tiny
sketch of SimHash centres. No list of past events is kept.
"""

from __future__ import annotations

import math
import struct
from typing import Final

from app.core.text import (
    FLAG_CODE,
    FLAG_READ,
    FLAG_REWRITE,
    FLAG_RUBRIC,
    FLAG_TOOL,
    HARVEST_FLAGS,
    popcount,
)
from app.events import Event

HARVEST: Final = HARVEST_FLAGS
GRADING: Final = FLAG_RUBRIC | FLAG_REWRITE
AGENTIC: Final = FLAG_CODE | FLAG_TOOL

TAU_SHORT_S: Final = 300.0  # rate window: five minutes
TAU_EVIDENCE_S: Final = 6 * 3600.0  # memory of the accumulated request evidence
TAU_STRONG_S: Final = 24 * 3600.0  # memory of strongly harvest-shaped requests
SHORT_EVENTS: Final = 24  # short horizon of shares, in events
BASE_EVENTS: Final = 400  # baseline horizon of shares, in events
REST_GAP_S: Final = 2 * 3600.0  # a pause this long counts as a rest period
MAX_GAP_S: Final = 6 * 3600.0
TEMPLATE_MAX_HAMMING: Final = 12  # SimHash distance under which two prompts share a template
MAXHIT_SHARE: Final = 0.97  # completion at this share of max_tokens counts as cut off
LONG_TOKENS: Final = 1000.0  # a completion this long is a long one

# Request evidence, in log-odds units: how much one request looks like harvesting.
# Content and output shape dominate; network and client add a little.
R_HARVEST: Final = 1.0  # elicits chain of thought, grading or a "safe" rewrite
R_GRADING: Final = 0.5  # ... and it is rubric grading or a rewrite (rare in ordinary use)
R_AGENTIC: Final = 0.3  # code or tool use
# opens a conversation (or has none); a follow-up turn counts the same, negative
R_SINGLE: Final = 0.3
# per doubling of the completion over LONG_TOKENS (two doublings at most, each way)
R_LONG: Final = 0.8
R_CAP: Final = 0.5  # uses a large share of max_tokens
R_RATIO: Final = 0.4  # completion four times the prompt or more
R_TEMPLATE: Final = 0.4  # near-duplicate of one of the account's recent prompts
R_DATACENTER: Final = 0.2
R_MISMATCH: Final = 0.5  # the user agent claims a client whose TLS stack is different
R_SWITCH: Final = 0.5  # sent from another client stack than the account's usual one
# single-turn harvest asks on a reused template at a machine's pace: a person does not keep
# up MACHINE_RATE_N requests in the rate window (about ten a minute for five minutes). A
# request whose content is unknown (a fingerprint, no text) counts as such an ask: at that
# pace on one template its shape is what the fingerprint shows
R_MACHINE: Final = 1.0
MACHINE_RATE_N: Final = 50.0
DRIFT: Final = 1.0  # evidence an ordinary request stays under: the CUSUM allowance
STRONG: Final = 3.0  # a request at least this harvest-shaped counts as a strong one
EVIDENCE_CAP: Final = 10.0

_A_SHORT: Final = 1.0 / SHORT_EVENTS
_A_BASE: Final = 1.0 / BASE_EVENTS
_K_SHORT: Final = -1.0 / TAU_SHORT_S
_K_EVIDENCE: Final = -1.0 / TAU_EVIDENCE_S
_K_STRONG: Final = -1.0 / TAU_STRONG_S
_LOG2: Final = 1.4426950408889634


def client_hash(ev: Event) -> int:
    """A 32-bit hash of the event's client stack (user agent and TLS), 0 when it has none.

    In-process hashes: only equality matters (a restored state may see one change).
    """
    ua, tls = ev.user_agent, ev.tls_fp
    return hash((ua, tls)) & 0xFFFFFFFF if ua or tls else 0


# The fields of AccountState, named at module level so the compiled build (mypyc) can
# read them too.
_SLOTS = (
    # volume and timing
    "n", "first_ts", "last_ts", "created_ts", "streak_ts", "rs", "gm", "gv",
    # request evidence: CUSUM of per-request harvest evidence, since when it has been
    # positive, count of strong requests; the same CUSUM over the requests sent from
    # other client stacks than the account's usual one (a side channel)
    "ev", "ev_ts", "hs", "sv",
    # short shares: harvest, agentic, template reuse, single-turn, max_tokens hits,
    # log2 output ratio, long completions, new model, datacenter, UA/TLS mismatch, IP churn
    "hv", "ag", "tp", "sg", "mx", "ot", "lg", "nm", "dc", "mm", "ch",
    # client stack: the account's majority UA/TLS (Boyer-Moore vote), share of others
    "cl", "cc", "sw",
    # own baseline (frozen while the account is flagged)
    "b_hv", "b_mx", "b_ot",
    # template sketch: four SimHash centres with counts
    "f0", "f1", "f2", "f3", "c0", "c1", "c2", "c3",
    # bookkeeping of the detector
    "ip", "risk", "pop", "eval_n", "model_n", "model_ts", "sig_ts", "sig_n",
    "alert_ts", "alert_last_ts", "alert_risk",
)  # fmt: skip


class AccountState:
    """Everything the core remembers about one account (about 1.5 KB in memory)."""

    __slots__ = _SLOTS

    def __init__(self) -> None:
        self.n = 0
        self.first_ts = self.last_ts = self.streak_ts = 0.0
        self.created_ts = -1.0
        self.rs = self.gm = self.gv = self.ev = self.ev_ts = self.hs = self.sv = 0.0
        self.hv = self.ag = self.tp = self.sg = self.mx = self.ot = self.lg = 0.0
        self.nm = self.dc = self.mm = self.ch = self.sw = 0.0
        self.cl = self.cc = 0
        self.b_hv = self.b_mx = self.b_ot = 0.0
        self.f0 = self.f1 = self.f2 = self.f3 = 0
        self.c0 = self.c1 = self.c2 = self.c3 = 0
        self.ip = 0
        self.risk = self.pop = 0.0
        self.eval_n = self.model_n = self.sig_n = 0
        self.model_ts = self.sig_ts = 0.0
        self.alert_ts = self.alert_last_ts = self.alert_risk = 0.0

    def update(
        self, ev: Event, new_model: bool, datacenter: bool, mismatch: bool, client: int = -1
    ) -> bool:
        """Fold one event into the state; return whether its prompt reused a known template.

        ``client`` is the event's :func:`client_hash` where the caller has it already.
        """
        ts = ev.ts
        n = self.n + 1
        self.n = n
        if n == 1:
            self.first_ts = self.last_ts = self.streak_ts = ts
            if ev.account_created_ts is not None:
                self.created_ts = ev.account_created_ts
        gap = ts - self.last_ts
        if gap < 0.0:
            gap = 0.0
        elif gap > REST_GAP_S:
            self.streak_ts = ts
        self.last_ts = ts
        self.rs = self.rs * math.exp(gap * _K_SHORT) + 1.0
        a = 1.0 / n if n < SHORT_EVENTS else _A_SHORT
        if n > 1:
            lg = math.log(1.0 + (gap if gap < MAX_GAP_S else MAX_GAP_S))
            ag = 1.0 / (n - 1) if n <= SHORT_EVENTS else _A_SHORT
            d = lg - self.gm
            self.gm += ag * d
            self.gv = (1.0 - ag) * (self.gv + ag * d * d)

        flags = ev.flags
        harvest = flags & HARVEST != 0
        agentic = flags & AGENTIC != 0
        turn = ev.turn
        single = turn is None or turn <= 1
        mt = ev.max_tokens
        ct = ev.completion_tokens
        hit = mt is not None and mt > 0 and ct >= MAXHIT_SHARE * mt
        ratio = math.log((ct + 1.0) / (ev.prompt_tokens + 1.0)) * _LOG2
        doublings = math.log((ct + 1.0) / LONG_TOKENS) * _LOG2
        fp = ev.prompt_fp
        reused = self._sketch(fp) if fp is not None else False

        switched = False
        if client < 0:
            client = client_hash(ev)
        if client:
            if client == self.cl:
                if self.cc < 64:
                    self.cc += 1
            elif self.cc == 0:
                self.cl, self.cc = client, 1
            else:
                self.cc -= 1
                switched = True

        r = R_SINGLE if single else -R_SINGLE
        if harvest:
            r += R_HARVEST + (R_GRADING if flags & GRADING else 0.0)
        if agentic:
            r += R_AGENTIC
        r += R_LONG * (2.0 if doublings > 2.0 else -2.0 if doublings < -2.0 else doublings)
        if mt and ct >= 0.3 * mt and ct >= LONG_TOKENS:
            r += R_CAP
        if ratio >= 2.0:
            r += R_RATIO
        if reused:
            r += R_TEMPLATE
            if single and self.rs >= MACHINE_RATE_N and (harvest or flags & FLAG_READ == 0):
                r += R_MACHINE
        if datacenter:
            r += R_DATACENTER
        if mismatch:
            r += R_MISMATCH
        if switched:
            r += R_SWITCH
        e = r - DRIFT
        if self.ev:
            e += self.ev * math.exp(gap * _K_EVIDENCE)
        if e <= 0.0:
            self.ev = 0.0
        else:
            if self.ev == 0.0:
                self.ev_ts = ts  # a new episode of harvest-shaped traffic starts
            self.ev = EVIDENCE_CAP if e > EVIDENCE_CAP else e
        # A side channel's evidence is not drained by the account's ordinary traffic: an
        # account that harvests through a second client among its own work keeps it.
        if switched:
            e = r - DRIFT
            if self.sv:
                e += self.sv * math.exp(gap * _K_EVIDENCE)
            self.sv = 0.0 if e <= 0.0 else EVIDENCE_CAP if e > EVIDENCE_CAP else e
        elif self.sv:
            self.sv *= math.exp(gap * _K_EVIDENCE)
        if self.hs:
            self.hs = self.hs * math.exp(gap * _K_STRONG) + (1.0 if r >= STRONG else 0.0)
        elif r >= STRONG:
            self.hs = 1.0

        # The shares move towards 1.0 or 0.0, written as floats: mypyc subtracts a float
        # from a bool through the generic number protocol (a float object each time).
        x_harvest = 1.0 if harvest else 0.0
        x_hit = 1.0 if hit else 0.0
        self.hv += a * (x_harvest - self.hv)
        self.ag += a * ((1.0 if agentic else 0.0) - self.ag)
        self.sg += a * ((1.0 if single else 0.0) - self.sg)
        self.mx += a * (x_hit - self.mx)
        self.ot += a * (ratio - self.ot)
        self.lg += a * ((1.0 if doublings >= 0.0 else 0.0) - self.lg)
        self.nm += a * ((1.0 if new_model else 0.0) - self.nm)
        self.dc += a * ((1.0 if datacenter else 0.0) - self.dc)
        self.mm += a * ((1.0 if mismatch else 0.0) - self.mm)
        self.sw += a * ((1.0 if switched else 0.0) - self.sw)
        ip = hash(ev.ip) & 0xFFFFFFFF if ev.ip else 0
        self.ch += a * ((1.0 if n > 1 and ip != self.ip else 0.0) - self.ch)
        self.ip = ip
        if fp is not None:
            self.tp += a * ((1.0 if reused else 0.0) - self.tp)
        if self.alert_ts == 0.0:
            b = 1.0 / n if n < BASE_EVENTS else _A_BASE
            self.b_hv += b * (x_harvest - self.b_hv)
            self.b_mx += b * (x_hit - self.b_mx)
            self.b_ot += b * (ratio - self.b_ot)
        return reused

    def _sketch(self, fp: int) -> bool:
        """Match ``fp`` against the four template centres; learn it; return whether it matched."""
        lim = TEMPLATE_MAX_HAMMING
        if self.c0 and popcount(fp ^ self.f0) <= lim:
            self.c0 += 1
            return True
        if self.c1 and popcount(fp ^ self.f1) <= lim:
            self.c1 += 1
            return True
        if self.c2 and popcount(fp ^ self.f2) <= lim:
            self.c2 += 1
            return True
        if self.c3 and popcount(fp ^ self.f3) <= lim:
            self.c3 += 1
            return True
        # A miss halves every count and replaces the weakest centre: stale templates fade.
        c0, c1, c2, c3 = self.c0 >> 1, self.c1 >> 1, self.c2 >> 1, self.c3 >> 1
        low = c0 if c0 < c1 else c1  # min() of ints is a generic call under mypyc
        low = low if low < c2 else c2
        low = low if low < c3 else c3
        if c0 == low:
            self.f0, c0 = fp, 1
        elif c1 == low:
            self.f1, c1 = fp, 1
        elif c2 == low:
            self.f2, c2 = fp, 1
        else:
            self.f3, c3 = fp, 1
        self.c0, self.c1, self.c2, self.c3 = c0, c1, c2, c3
        return False

    def top_template(self) -> tuple[int, int]:
        """Return the SimHash centre with the highest count, and that count."""
        return max(
            ((self.c0, self.f0), (self.c1, self.f1), (self.c2, self.f2), (self.c3, self.f3))
        )[::-1]

    def gap_spread(self) -> float:
        """Return the standard deviation of log inter-arrival gaps (low = machine-regular)."""
        return math.sqrt(self.gv) if self.gv > 0.0 else 0.0

    def to_bytes(self) -> bytes:
        """Serialise the state into a fixed-size record."""
        return _PACK.pack(
            _VERSION,
            *(getattr(self, name) for name in _FIELDS),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> AccountState:
        """Rebuild a state from :meth:`to_bytes` output (or an older version's record);
        raise ValueError if malformed."""
        version = data[0] if data else -1
        layout = _LAYOUTS.get(version)
        if layout is None or len(data) != layout[1].size:
            raise ValueError(
                f"account state record of {len(data)} bytes is not version {_VERSION}"
                f" (or an older known version)"
            )
        fields, pack = layout
        state = cls()
        for name, value in zip(fields, pack.unpack(data)[1:], strict=True):
            setattr(state, name, value)
        return state


_VERSION: Final = 2
_INT_FIELDS = ("n", "eval_n", "model_n", "sig_n", "c0", "c1", "c2", "c3", "ip", "cl", "cc")
_FP_FIELDS = ("f0", "f1", "f2", "f3")
_TS_FIELDS = (
    "first_ts",
    "last_ts",
    "created_ts",
    "streak_ts",
    "model_ts",
    "sig_ts",
    "alert_ts",
    "alert_last_ts",
)
_FLOAT_FIELDS = tuple(name for name in _SLOTS if name not in _INT_FIELDS + _FP_FIELDS + _TS_FIELDS)
_FIELDS: Final = _INT_FIELDS + _FP_FIELDS + _TS_FIELDS + _FLOAT_FIELDS


def _layout(floats: tuple[str, ...]) -> tuple[tuple[str, ...], struct.Struct]:
    fields = _INT_FIELDS + _FP_FIELDS + _TS_FIELDS + floats
    return fields, struct.Struct(
        "<B"
        + "I" * len(_INT_FIELDS)
        + "Q" * len(_FP_FIELDS)
        + "d" * len(_TS_FIELDS)
        + "f" * len(floats)
    )


_PACK = _layout(_FLOAT_FIELDS)[1]
# Version 1 had no side-channel evidence (``sv``): such a record restores with none.
_LAYOUTS = {
    1: _layout(tuple(name for name in _FLOAT_FIELDS if name != "sv")),
    _VERSION: (_FIELDS, _PACK),
}
