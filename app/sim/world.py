"""The simulated world: accounts, keys, networks, texts, and the columns events are built in."""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

import numpy as np

from app.sim.network import Clients, Nets
from app.sim.prompts import reasoning_task
from app.sim.scenario import Range, Scenario
from app.sim.textbank import TextBank

FIELDS = {
    "acct": np.int32, "model": np.int16, "ptok": np.int64, "ctok": np.int64, "maxtok": np.int64,
    "prompt": np.int32, "system": np.int32, "conv": np.int64, "turn": np.int32, "status": np.int16,
    "key": np.int32, "net": np.int32, "client": np.int32,
}  # fmt: skip
DEFAULTS = {"system": -1, "conv": -1, "turn": 0, "status": 200}


@dataclass(slots=True)
class Account:
    """Identity of one account (constant over its events)."""

    account_id: str
    role: str
    created_ts: float
    org_id: str
    payment_fp: str | None
    country: str
    tz: float
    endpoint: str = "/v1/messages"
    events: int = 0
    keys: list[int] = field(default_factory=list)


class World:
    """Everything the archetypes and campaigns write into while a scenario is generated."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        start_ts: float | None = None,
        tasks: list[str] | None = None,
    ) -> None:
        self.sc = scenario
        self.seed = seed
        self.t0 = scenario.start_ts if start_ts is None else float(start_ts)
        self.t1 = self.t0 + scenario.duration_hours * 3600.0
        self.models = list(scenario.models)
        self.new_model = -1
        self.release_ts: float | None = None
        if scenario.release is not None:
            self.models.append(scenario.release.model)
            self.new_model = len(self.models) - 1
            self.release_ts = self.t0 + scenario.release.at_hours * 3600.0
        self.bank = TextBank(self._seed("text"))
        self.nets = Nets(self._seed("nets"))
        self.clients = Clients(self._seed("clients"))
        self.accounts: list[Account] = []
        self.keys: list[str] = []
        self.team_cards: list[str] = []
        self._ids = random.Random(self._seed("ids"))
        self._seen: set[str] = set()
        self._parts: dict[str, list[np.ndarray]] = {"ts": [], **{f: [] for f in FIELDS}}
        self.conv_count = 0
        self.tasks = tasks or [reasoning_task(self.bank.rand) for _ in range(4000)]

    def _seed(self, tag: str) -> int:
        return (self.seed * 1_000_003 + zlib.crc32(tag.encode())) % 2**63

    def rng(self, tag: str) -> np.random.Generator:
        """A generator for one component, independent of every other component."""
        return np.random.default_rng([self.seed % 2**63, zlib.crc32(tag.encode())])

    def rand(self, tag: str) -> random.Random:
        """A stdlib generator for one component (cheap scalar choices)."""
        return random.Random(self._seed(tag))

    def hexid(self, prefix: str, nbytes: int = 6) -> str:
        """A new unique random-looking identifier."""
        while True:
            value = f"{prefix}{self._ids.getrandbits(nbytes * 8):0{nbytes * 2}x}"
            if value not in self._seen:
                self._seen.add(value)
                return value

    def add_account(
        self,
        role: str,
        created_ts: float,
        country: str,
        tz: float,
        org_id: str | None = None,
        payment_fp: str | None = "new",
    ) -> int:
        """Register an account and give it one API key; return its index."""
        acct = Account(
            account_id=self.hexid("acct_"),
            role=role,
            created_ts=float(created_ts),
            org_id=org_id or self.hexid("org_", 5),
            payment_fp=self.hexid("pm_", 8) if payment_fp == "new" else payment_fp,
            country=country,
            tz=tz,
        )
        acct.keys.append(self.new_key())
        self.accounts.append(acct)
        return len(self.accounts) - 1

    def new_key(self) -> int:
        """A new API key id; return its index."""
        self.keys.append(self.hexid("key_", 6))
        return len(self.keys) - 1

    def new_convs(self, n: int) -> np.ndarray:
        """Reserve ``n`` conversation numbers."""
        out = np.arange(self.conv_count, self.conv_count + n, dtype=np.int64)
        self.conv_count += n
        return out

    def created(
        self,
        rng: np.random.Generator,
        new: bool,
        in_window_share: float = 0.3,
        cohort: float | None = None,
    ) -> float:
        """An account creation time: new (last 14 days or during the scenario) or established."""
        if new:
            if rng.random() < in_window_share:
                return float(rng.uniform(self.t0, self.t0 + 0.8 * (self.t1 - self.t0)))
            return float(
                cohort if cohort is not None else self.t0 - rng.uniform(0.05, 14.0) * 86400
            )
        return float(self.t0 - np.exp(rng.uniform(np.log(15.0), np.log(1100.0))) * 86400)

    def emit(self, acct: int, ts: np.ndarray, **cols: object) -> int:
        """Add the events of one account, dropping those outside the window or before sign-up."""
        a = self.accounts[acct]
        keep = (ts >= max(self.t0, a.created_ts + 30.0)) & (ts < self.t1)
        n = int(keep.sum())
        if n == 0:
            return 0
        self._parts["ts"].append(ts[keep])
        cols.setdefault("key", a.keys[0])
        cols["acct"] = acct
        for name, dtype in FIELDS.items():
            value = np.asarray(cols.get(name, DEFAULTS.get(name, 0)), dtype=dtype)
            self._parts[name].append(value[keep] if value.ndim else np.full(n, value, dtype=dtype))
        a.events += n
        return n

    def emit_many(self, accts: np.ndarray, ts: np.ndarray, **cols: object) -> np.ndarray:
        """Add events of many accounts at once (``accts`` per event); return kept counts per account."""
        created = np.array([self.accounts[i].created_ts for i in range(len(self.accounts))])[accts]
        keep = (ts >= np.maximum(self.t0, created + 30.0)) & (ts < self.t1)
        n = int(keep.sum())
        counts = np.bincount(accts[keep], minlength=len(self.accounts))
        if n == 0:
            return counts
        self._parts["ts"].append(ts[keep])
        if "key" not in cols:
            cols["key"] = np.array([a.keys[0] for a in self.accounts])[accts]
        cols["acct"] = accts
        for name, dtype in FIELDS.items():
            value = np.asarray(cols.get(name, DEFAULTS.get(name, 0)), dtype=dtype)
            self._parts[name].append(value[keep] if value.ndim else np.full(n, value, dtype=dtype))
        for i in np.flatnonzero(counts):
            self.accounts[i].events += int(counts[i])
        return counts

    def finish(self) -> dict[str, np.ndarray]:
        """Concatenate every column (events still in insertion order)."""
        if not self._parts["ts"]:
            return {"ts": np.empty(0), **{f: np.empty(0, dtype=d) for f, d in FIELDS.items()}}
        return {name: np.concatenate(parts) for name, parts in self._parts.items()}


def pick(rng: np.random.Generator, span: Range) -> float:
    """Draw one value from a parameter range (log-uniform when the range is wide)."""
    lo, hi = span
    if lo == hi:
        return lo
    u = rng.random()
    if lo > 0 and hi / lo >= 4:
        return float(lo * (hi / lo) ** u)
    return lo + (hi - lo) * u


def pick_n(rng: np.random.Generator, span: Range, n: int) -> np.ndarray:
    """Draw ``n`` values from a parameter range: log-uniform for wide positive ranges, else uniform."""
    lo, hi = span
    if lo == hi:
        return np.full(n, lo)
    u = rng.random(n)
    if lo > 0 and hi / lo >= 4:
        return lo * (hi / lo) ** u
    return lo + (hi - lo) * u


def choose(rng: np.random.Generator, pool: np.ndarray | list[int], n: int) -> np.ndarray:
    """``n`` uniform draws from ``pool`` (faster than ``Generator.choice`` for small calls)."""
    arr = np.asarray(pool)
    return arr[rng.integers(0, len(arr), n)]
