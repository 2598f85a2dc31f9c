"""Statistics of a planned simulation that show the benign traps are real traps."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from app.sim.generate import Simulation


def _sharing(group: np.ndarray, acct: np.ndarray, n_groups: int) -> np.ndarray:
    """Number of distinct accounts per group id."""
    pairs = np.unique(group.astype(np.int64) * (int(acct.max()) + 1) + acct)
    return np.bincount(pairs // (int(acct.max()) + 1), minlength=n_groups)


def max_per_minute(sim: Simulation) -> np.ndarray:
    """Per account: the most requests it sent in any 60-second window."""
    w, c = sim.world, sim.cols
    key = c["acct"].astype(np.float64) * 1e7 + (c["ts"] - w.t0)
    order = np.argsort(key, kind="stable")
    k = key[order]
    count = np.searchsorted(k, k + 60.0) - np.arange(len(k))
    out = np.zeros(len(w.accounts), dtype=np.int64)
    np.maximum.at(out, c["acct"][order], count)
    return out


def trap_report(sim: Simulation) -> dict[str, Any]:
    """Facts about the benign traps and the campaigns of a planned simulation."""
    w, c = sim.world, sim.cols
    campaign_ids = {crew.spec.id for crew in sim.crews}
    benign = np.array([a.role not in campaign_ids for a in w.accounts])
    hydra = np.array(
        [a.role in {cr.spec.id for cr in sim.crews if cr.spec.kind == "hydra"} for a in w.accounts]
    )
    events = np.bincount(c["acct"], minlength=len(w.accounts))
    days = (w.t1 - w.t0) / 86400.0
    per_min = max_per_minute(sim)
    on_b = benign[c["acct"]]
    has_sys = on_b & (c["system"] >= 0)
    sys_share = (
        _sharing(c["system"][has_sys], c["acct"][has_sys], len(w.bank.texts))
        if has_sys.any()
        else np.zeros(1)
    )
    prefixes: dict[str, int] = {}
    net24 = np.array(
        [prefixes.setdefault(ip.rsplit(".", 1)[0], len(prefixes)) for ip, _, _ in w.nets.rows]
    )
    net_share = _sharing(net24[c["net"][on_b]], c["acct"][on_b], len(prefixes))
    active_benign = benign & (events > 0)
    hydra_rates = events[hydra & (events > 0)] / days
    return {
        "events": int(len(c["ts"])),
        "accounts": int((events > 0).sum()),
        "benign_accounts": int(active_benign.sum()),
        "roles": dict(
            Counter(a.role for a, n in zip(w.accounts, events.tolist(), strict=True) if n)
        ),
        "benign_median_requests_per_day": float(np.median(events[active_benign] / days))
        if active_benign.any()
        else 0.0,
        "benign_max_requests_per_minute": int(per_min[benign].max(initial=0)),
        "benign_accounts_over_60_per_minute": int((per_min[benign] > 60).sum()),
        "benign_max_accounts_per_system_prompt": int(sys_share.max(initial=0)),
        "benign_max_accounts_per_slash24": int(net_share.max(initial=0)),
        "benign_new_account_share": float(
            np.mean(
                [
                    w.accounts[i].created_ts > w.t0 - 14 * 86400
                    for i in np.flatnonzero(active_benign)
                ]
            )
        ),
        "hydra_max_requests_per_day": float(hydra_rates.max(initial=0.0)),
    }
