"""Where requests come from: IP addresses with ASN and country, and client (UA, TLS) stacks.

Residential users get their own addresses; carrier and university NAT put many accounts on
one /24; cloud workloads sit in datacenter ASNs; proxy providers own exit pools that campaign
and legitimate customers share.
"""

from __future__ import annotations

import random

# (asn, country, first octets). Residential and business ISPs.
ISPS = (
    (7922, "US", (73, 98, 24)),
    (7018, "US", (99, 107)),
    (701, "US", (71, 108)),
    (20115, "US", (47, 66)),
    (2856, "GB", (81, 86)),
    (5607, "GB", (90, 94)),
    (3320, "DE", (79, 84, 91)),
    (55836, "IN", (49, 157)),
    (24560, "IN", (122, 182)),
    (3215, "FR", (90, 86)),
    (4713, "JP", (118, 153)),
    (28573, "BR", (177, 187)),
    (812, "CA", (99, 174)),
    (1221, "AU", (101, 120)),
    (4766, "KR", (175, 211)),
    (9506, "SG", (116, 119)),
    (1136, "NL", (84, 145)),
    (3352, "ES", (80, 88)),
    (8151, "MX", (187, 189)),
    (5617, "PL", (83, 89)),
    (6830, "IE", (89, 109)),
    (3301, "SE", (78, 90)),
    (8551, "IL", (79, 109)),
)
# (asn, country, first octets, egress /24 count). Mobile carriers behind CGNAT.
CARRIERS = (
    (21928, "US", (172,), 6), (22394, "US", (174,), 6), (20057, "US", (166,), 4), (12576, "GB", (31,), 4),
    (45609, "IN", (106,), 6), (3209, "DE", (176,), 4), (2516, "JP", (49,), 3), (26599, "BR", (177,), 3),
    (51207, "FR", (37,), 3), (22652, "CA", (184,), 3), (4804, "AU", (101,), 3), (9644, "KR", (39,), 2),
)  # fmt: skip
# (asn, first octets). Cloud providers.
DATACENTERS = (
    (16509, (3, 18, 52, 54)),
    (15169, (34, 35)),
    (8075, (20, 40, 52)),
    (24940, (65, 88, 95)),
    (16276, (51, 54, 147)),
    (14061, (104, 138, 167)),
)
DC_COUNTRIES = ("US", "US", "US", "DE", "IE", "NL", "SG", "GB", "FR", "JP")

# TLS client fingerprints (JA4-style) of common stacks.
TLS = {
    "chrome": "t13d1516h2_8daaf6152771_02713d6af862",
    "firefox": "t13d1715h2_5b57614c22b0_3d5424432f57",
    "safari": "t13d2014h2_a09f3c656075_14788d8d241b",
    "python": "t13d1812h1_85036bcba153_d41ae481755e",
    "node": "t13d1413h1_6fbd5f6aa3b1_3b6a06a1c8b2",
    "go": "t13d1209h2_d61cba9d1f47_e7c285222651",
    "java": "t13d1311h2_c866b44c5a26_9b0d79b4a8e5",
    "curl": "t13d3112h2_e8f1e7e78f70_6bebaf5329ac",
    "corp-proxy": "t12d2810h1_0d5ab5e0d1f8_25a7ff47e41b",
}
# (user agent template, TLS stack). {v} is a version number drawn per account.
CLIENTS = {
    "browser": (
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/12{v}.0.0.0 Safari/537.36",
            "chrome",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{v} Safari/605.1.15",
            "safari",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:12{v}.0) Gecko/20100101 Firefox/12{v}.0", "firefox"),
    ),
    "sdk": (
        ("anthropic-python/0.3{v}.0", "python"),
        ("anthropic-typescript/0.2{v}.1", "node"),
        ("anthropic-go/0.{v}.0", "go"),
        ("anthropic-java/1.{v}.0", "java"),
    ),
    "coding": (
        ("claude-cli/1.0.{v} (external, cli)", "node"),
        ("cursor/0.4{v}.2", "node"),
        ("aider/0.6{v}.0 anthropic-python/0.34.0", "python"),
    ),
    "script": (
        ("python-requests/2.3{v}.0", "python"),
        ("curl/8.{v}.0", "curl"),
        ("Go-http-client/2.0", "go"),
        ("python-httpx/0.2{v}.0", "python"),
    ),
    "framework": (
        ("openagents/0.{v}.3 anthropic-python/0.36.0", "python"),
        ("autopilot-js/2.{v}.0", "node"),
        ("taskweaver/0.{v}.1", "python"),
    ),
    "ci": (
        ("github-actions/anthropic-review@v{v}", "node"),
        ("gitlab-runner/16.{v}.0 python-requests/2.31.0", "python"),
    ),
}


class Nets:
    """Table of (ip, asn, country) source addresses, referenced by index from events."""

    def __init__(self, seed: int) -> None:
        self.rows: list[tuple[str, int, str]] = []
        self.r = random.Random(seed)

    def _add(self, ip: str, asn: int, country: str) -> int:
        self.rows.append((ip, asn, country))
        return len(self.rows) - 1

    def residential(self, country: str) -> int:
        """A home or office address of a user in ``country``."""
        r = self.r
        isps = [i for i in ISPS if i[1] == country] or list(ISPS)
        asn, cc, octets = r.choice(isps)
        return self._add(
            f"{r.choice(octets)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            asn,
            cc,
        )

    def datacenter(self, country: str | None = None) -> int:
        """An address in a cloud provider's range."""
        r = self.r
        asn, octets = r.choice(DATACENTERS)
        cc = country or r.choice(DC_COUNTRIES)
        return self._add(
            f"{r.choice(octets)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            asn,
            cc,
        )

    def nat_pool(
        self, size: int, asn: int | None = None, country: str = "US", octet: int | None = None
    ) -> list[int]:
        """``size`` addresses inside one /24 (a university or carrier NAT egress)."""
        r = self.r
        prefix = f"{octet or r.choice((128, 129, 130, 141, 155, 171))}.{r.randint(0, 255)}.{r.randint(0, 255)}"
        hosts = r.sample(range(1, 255), min(size, 254))
        return [self._add(f"{prefix}.{h}", asn or r.randint(1, 40000), country) for h in hosts]

    def carrier_pools(self) -> dict[str, list[int]]:
        """Egress addresses of the mobile carriers (CGNAT, a few /24s each), by country."""
        pools: dict[str, list[int]] = {}
        for asn, cc, octets, count in CARRIERS:
            for _ in range(count):
                pools.setdefault(cc, []).extend(
                    self.nat_pool(self.r.randint(8, 32), asn, cc, octets[0])
                )
        return pools

    def proxy_exits(self, n: int, datacenter_share: float) -> list[int]:
        """Exit addresses of a proxy provider: mostly residential, some datacenter."""
        r = self.r
        return [
            self.datacenter()
            if r.random() < datacenter_share
            else self.residential(r.choice(("US", "US", "GB", "DE", "CA", "SG", "NL")))
            for _ in range(n)
        ]


class Clients:
    """Table of (user agent, TLS fingerprint) pairs, referenced by index from events."""

    def __init__(self, seed: int) -> None:
        self.rows: list[tuple[str, str]] = []
        self._index: dict[tuple[str, str], int] = {}
        self.r = random.Random(seed)

    def pick(self, family: str, tls_override: str | None = None) -> int:
        """One client of ``family`` at a random version; ``tls_override`` forces the TLS stack."""
        ua, stack = self.r.choice(CLIENTS[family])
        row = (ua.format(v=self.r.randint(0, 9)), TLS[tls_override or stack])
        idx = self._index.get(row)
        if idx is None:
            idx = self._index[row] = len(self.rows)
            self.rows.append(row)
        return idx
