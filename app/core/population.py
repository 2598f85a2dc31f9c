"""Population context shared by every account: model releases, client stacks, hosting networks.

All of it is learned from the stream itself (event time only) and bounded in size.
"""

from __future__ import annotations

from typing import Final

# Autonomous systems of large hosting and cloud providers. Requests from these networks come
# from servers, not people; the list is public knowledge and can be extended by config.
DATACENTER_ASNS: frozenset[int] = frozenset(
    {
        16509,
        14618,
        8987,  # Amazon
        15169,
        396982,
        19527,  # Google
        8075,
        8068,  # Microsoft
        14061,  # DigitalOcean
        16276,  # OVH
        24940,  # Hetzner
        63949,  # Linode / Akamai
        20473,  # Vultr / Choopa
        45102,
        37963,  # Alibaba
        132203,
        45090,  # Tencent
        31898,  # Oracle
        13335,  # Cloudflare
        9009,  # M247
        60781,
        28753,  # Leaseweb
        12876,  # Scaleway
        51167,  # Contabo
        136907,  # Huawei Cloud
        40021,  # Contabo US
        36352,  # ColoCrossing
        53667,  # FranTech / BuyVM
        62240,  # Clouvider
        212238,  # Datacamp
    }
)

MAX_MODELS: Final = 256
MAX_CLIENTS: Final = 512
MAX_STACKS_PER_CLIENT: Final = 16


def client_family(user_agent: str | None) -> str:
    """Return the client family of a user agent: its first product token, lower-cased."""
    if not user_agent:
        return ""
    head = user_agent.split("/", 1)[0].split(" ", 1)[0]
    return head[:40].lower()


class ModelCatalog:
    """Learns when each model first appeared; a model is *new* for a while after its release.

    Models seen during the warm-up after the first event are taken as already established,
    so a replay that starts mid-life does not call every model new.
    """

    __slots__ = ("first_seen", "start_ts", "warmup_s", "new_for_s")

    def __init__(self, warmup_s: float = 3600.0, new_for_s: float = 3 * 86400.0) -> None:
        self.first_seen: dict[str, float] = {}
        self.start_ts = -1.0
        self.warmup_s = warmup_s
        self.new_for_s = new_for_s

    def is_new(self, model: str, ts: float) -> bool:
        """Record ``model`` at ``ts``; return whether it counts as newly released."""
        first = self.first_seen.get(model)
        if first is None:
            if self.start_ts < 0:
                self.start_ts = ts
            if len(self.first_seen) >= MAX_MODELS:
                return False
            first = self.first_seen[model] = ts
        if first - self.start_ts < self.warmup_s:
            return False
        return ts - first < self.new_for_s

    def newest(self) -> str:
        """Return the model released most recently (empty before any is seen)."""
        if not self.first_seen:
            return ""
        return max(self.first_seen.items(), key=lambda kv: kv[1])[0]


class ClientStacks:
    """Learns which TLS fingerprints each client family normally presents.

    A user agent that claims a client whose usual TLS stack is different is a weak-identity
    signal (a spoofed header on top of another HTTP library). Counting distinct accounts, not
    requests, keeps one loud account from making its own pairing look normal.
    """

    __slots__ = ("stacks", "totals", "min_accounts", "max_share")

    def __init__(self, min_accounts: int = 30, max_share: float = 0.05) -> None:
        self.stacks: dict[str, dict[str, int]] = {}
        self.totals: dict[str, int] = {}
        self.min_accounts = min_accounts
        self.max_share = max_share

    def learn(self, family: str, tls_fp: str) -> None:
        """Count one more account presenting ``tls_fp`` with client ``family``."""
        per = self.stacks.get(family)
        if per is None:
            if len(self.stacks) >= MAX_CLIENTS:
                return
            per = self.stacks[family] = {}
        if tls_fp in per:
            per[tls_fp] += 1
        elif len(per) < MAX_STACKS_PER_CLIENT:
            per[tls_fp] = 1
        else:
            return
        self.totals[family] = self.totals.get(family, 0) + 1

    def mismatch(self, family: str, tls_fp: str) -> bool:
        """Return whether ``tls_fp`` is unusual for client ``family`` (needs enough history)."""
        total = self.totals.get(family, 0)
        if total < self.min_accounts:
            return False
        return self.stacks[family].get(tls_fp, 0) < self.max_share * total
