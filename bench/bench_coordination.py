"""Coordination state: memory at 10k, 100k and 1M accounts, and signals per second.

A synthetic population, shaped like the simulator's: most accounts on their own home
network and card, some behind carrier or campus NAT, some in clouds; a few hundred client
stacks and a few thousand ASNs (Zipf-popular); a quarter on popular agent frameworks; half
with a prompt frame's opening and half with its closing words (Zipf-popular, on their
client stack); and one hydra campaign (1% of the accounts) so that campaign state is
exercised too. Memory is what tracemalloc sees allocated by the detector after every
account has signalled.
"""

from __future__ import annotations

import random
import time
import tracemalloc
from collections.abc import Iterator

from app.core.coordination import CoordinationConfig, CoordinationDetector
from app.core.types import AccountSignal

T0 = 1_772_409_600.0
SCALES = (10_000, 100_000, 1_000_000)


def _zipf(rng: random.Random, n: int) -> int:
    return min(n - 1, int(rng.paretovariate(1.1)) - 1)


def population(n_accounts: int, seed: int = 1) -> Iterator[AccountSignal]:
    """Yield one signal per account (four per campaign member), in event-time order."""
    rng = random.Random(seed)
    nat_pools = max(1, n_accounts // 200)
    clouds = max(1, n_accounts // 100)
    hydra = n_accounts // 100
    step = 86400.0 / n_accounts
    for i in range(n_accounts):
        ts = T0 + i * step
        u = rng.random()
        if i < hydra:  # one campaign, spread over the day by round-robin below
            continue
        if u < 0.6:
            net = f"net:{rng.getrandbits(22)}"
        elif u < 0.85:
            net = f"net:nat{rng.randrange(nat_pools)}"
        else:
            net = f"net:dc{rng.randrange(clouds)}"
        client = _zipf(rng, 400)
        keys = [net, f"client:{client}", f"infra:{_zipf(rng, 2000)}-{client}", f"pay:c{i}"]
        if rng.random() < 0.25:
            keys.append(f"sys:{_zipf(rng, 30)}")
        for end in "ht":  # a prompt's opening and closing words, on its client stack
            if rng.random() < 0.5:
                keys.append(f"frame:{end}{_zipf(rng, max(1, n_accounts // 4))}-{client}")
        yield AccountSignal(
            account_id=f"acct-{i:07d}",
            ts=ts,
            keys=tuple(keys),
            account_age_days=rng.uniform(0, 20) if rng.random() < 0.08 else rng.uniform(30, 900),
            org_id=f"org-{i}",
            prompt_fp=rng.getrandbits(64),
            features={"rate_per_min": rng.uniform(0.05, 2.0)},
        )
        if hydra and i % (n_accounts // (4 * hydra)) == 0:
            h = (i // (n_accounts // (4 * hydra))) % hydra
            yield AccountSignal(
                account_id=f"hydra-{h:06d}",
                ts=ts,
                keys=(
                    f"net:exit{h % 97}",
                    "client:script",
                    f"pay:shared{h // 10}",
                    f"frame:h{h % 3}-script",
                ),
                account_age_days=rng.uniform(0.5, 10),
                harvest=0.4,
                org_id=f"org-h{h}",
                prompt_fp=rng.getrandbits(64),
                features={"rate_per_min": 0.05},
            )


def measure(n_accounts: int, trace: bool = True) -> dict[str, float]:
    """Feed one population to a fresh detector; return its memory, groups and speed."""
    signals = list(population(n_accounts))
    if trace:
        tracemalloc.start()
    det = CoordinationDetector(CoordinationConfig(), seed=42)
    found: set[str] = set()
    started = time.perf_counter()
    for s in signals:
        for d in det.observe(s):
            found.update(d.accounts)
    elapsed = time.perf_counter() - started
    mem = tracemalloc.get_traced_memory()[0] if trace else 0
    if trace:
        tracemalloc.stop()
    return {
        "mb": mem / 2**20,
        "groups": det.groups_tracked(),
        "signals": len(signals),
        "us_per_signal": elapsed / len(signals) * 1e6,
        "named_campaign": sum(a.startswith("hydra-") for a in found),
        "named_other": sum(not a.startswith("hydra-") for a in found),
    }


def run() -> dict[str, float]:
    """Memory at 10k, 100k and 1M accounts, and signals per second (untraced, 100k)."""
    out: dict[str, float] = {}
    for n in SCALES:
        got = measure(n)
        tag = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}m"
        out[f"coordination_mem_mb_{tag}"] = round(got["mb"], 1)
        out[f"coordination_groups_{tag}"] = got["groups"]
        out[f"coordination_named_bystanders_{tag}"] = got["named_other"]
    speed = measure(100_000, trace=False)
    out["coordination_signals_per_s"] = round(1e6 / speed["us_per_signal"])
    return out


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40s} {value}")
