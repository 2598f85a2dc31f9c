"""Bounded state of one coordination group: every account that shares one fingerprint key.

Members are a bottom-k sample by account hash (a KMV sketch): it estimates how many distinct
accounts share the key and is a uniform sample for every group statistic, in fixed memory.
Per member the group keeps a row of floats in one flat ``array('d')``.
"""

from __future__ import annotations

import struct
import sys
from array import array
from typing import Any, Final

from app.core.coordination_sketch import U64, Templates

_BYTEORDER = sys.byteorder  # array("Q") holds native-order integers

# Columns of a member row.
N: Final = 0
FIRST: Final = 1
LAST: Final = 2
LIDX: Final = 3
GN: Final = 4
GMEAN: Final = 5
GM2: Final = 6
AGE: Final = 7
HARV: Final = 8
ORG: Final = 9
NET: Final = 10
INFRA: Final = 11
CLIENT: Final = 12
PAY: Final = 13
PIVOT: Final = 14
RATE: Final = 15
RISK: Final = 16
DC: Final = 17
MM: Final = 18
HV: Final = 19
SG: Final = 20
F: Final = 21

# A member row read or written in one call: mypyc reads an ``array`` element by element
# through generic calls with a boxed index, a dozen per signal and group. ``_TIMING``
# is the row's first columns (N to GM2), ``_ATTRS`` its last (AGE to SG).
_TIMING = struct.Struct(f"{AGE}d")
_ATTRS = struct.Struct(f"{F - AGE}d")
_ROW = struct.Struct(f"{F}d")
# A new member's row, zeroed: extending by an array copies bytes, by a list of floats
# converts each (array.extend parses every item of a list as a call argument).
_NEW_ROW = array("d", bytes(8 * F))
# The last columns of a member row an older group record lacks, by record version.
_PADDING: Final = {1: [0.0, 1.0], 2: [1.0]}


class Obs:
    """What one account signal says, computed once and shared by all of its groups.

    A plain class: mypyc compiles its ``__init__`` (a dataclass's stays interpreted), and
    one is built for every signal and every member a group rescans.
    """

    __slots__ = (
        "h", "account_id", "ts", "age", "harvest", "fp", "org", "net", "infra", "client",
        "pay", "pivot", "rate", "risk", "dc", "mm", "suspect", "hv", "sg",
    )  # fmt: skip

    def __init__(
        self,
        h: int,  # seeded 64-bit hash of the account id
        account_id: str,
        ts: float,
        age: float,  # days, -1 when unknown
        harvest: float,
        fp: int,  # template SimHash, 0 when unknown
        org: int,  # 32-bit hash of the org, 0 when none
        net: int,
        infra: int,
        client: int,
        pay: int,
        pivot: float,  # share of recent traffic on a newly released model
        rate: float,  # requests per minute
        risk: float,
        dc: float,  # share from hosting networks
        mm: float,  # share with a client stack that disagrees with its user agent
        suspect: bool = False,  # shows at least two campaign traits on its own (see the detector)
        hv: float = 0.0,  # share of its recent requests that ask for harvest-shaped content
        sg: float = 1.0,  # share of its recent requests that open a conversation (turn 1 or none)
    ) -> None:
        self.h = h
        self.account_id = account_id
        self.ts = ts
        self.age = age
        self.harvest = harvest
        self.fp = fp
        self.org = org
        self.net = net
        self.infra = infra
        self.client = client
        self.pay = pay
        self.pivot = pivot
        self.rate = rate
        self.risk = risk
        self.dc = dc
        self.mm = mm
        self.suspect = suspect
        self.hv = hv
        self.sg = sg


# Profile's fields in order (``Profile._fields``).
_ProfileFields = tuple[
    bool, tuple[int, ...], float, float, float, tuple[int, ...], float, float, bool, float, bool
]


class Profile:
    """What a member of a campaign shows on its own; a threshold < 0 means not checked.

    A plain class, treated as immutable (as :class:`Obs`): every group scored builds one.
    """

    __slots__ = (
        "new", "centres", "harvest", "pivot", "mm", "cards", "young", "hv", "keyed", "made",
        "asks",
    )  # fmt: skip

    def __init__(
        self,
        new: bool = False,
        centres: tuple[int, ...] = (),  # the campaign's template centres (empty: not checked)
        harvest: float = -1.0,
        pivot: float = -1.0,
        mm: float = -1.0,
        cards: tuple[int, ...] = (),  # cards members of different orgs share (empty: not checked)
        young: float = -1.0,  # the oldest a member new by its age may be (< 0: new_days only)
        hv: float = -1.0,  # share of its requests asking for harvest-shaped content
        keyed: bool = False,  # holding the group's key is a trait crowds lack (see matches)
        made: float = -1.0,  # the latest a member named as its stack's batch was made (< 0: none)
        asks: bool = False,  # its members ask: one that asked for nothing recently is not one
    ) -> None:
        self.new = new
        self.centres = centres
        self.harvest = harvest
        self.pivot = pivot
        self.mm = mm
        self.cards = cards
        self.young = young
        self.hv = hv
        self.keyed = keyed
        self.made = made
        self.asks = asks

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Profile) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"Profile{self._fields()!r}"

    def _fields(self) -> _ProfileFields:
        return (
            self.new, self.centres, self.harvest, self.pivot, self.mm, self.cards, self.young,
            self.hv, self.keyed, self.made, self.asks,
        )  # fmt: skip

    def harvest_only(self) -> bool:
        """Whether its harvest is the only check a member must pass."""
        return (
            self.harvest >= 0.0 and not self.new and not self.centres and self.pivot < 0.0
            and self.mm < 0.0 and not self.cards and self.hv < 0.0 and not self.keyed
        )  # fmt: skip

    def with_harvest(self, harvest: float) -> Profile:
        """The same checks with another harvest line."""
        return self._with(harvest, self.made)

    def without(self, harvest: bool = False, batch: bool = False) -> Profile:
        """The same checks but the harvest check (``harvest``) or naming the stack's batch
        (``batch``, the profile's ``made``)."""
        return self._with(-1.0 if harvest else self.harvest, -1.0 if batch else self.made)

    def _with(self, harvest: float, made: float) -> Profile:
        return Profile(
            self.new, self.centres, harvest, self.pivot, self.mm, self.cards, self.young,
            self.hv, self.keyed, made, self.asks,
        )  # fmt: skip

    def to_list(self) -> list[object]:
        """Return a JSON-ready form."""
        return [
            self.new, list(self.centres), self.harvest, self.pivot, self.mm, list(self.cards),
            self.young, self.hv, self.keyed, self.made, self.asks,
        ]  # fmt: skip

    @classmethod
    def from_list(cls, data: list[Any]) -> Profile:
        """Inverse of :meth:`to_list` (a record written before ``cards``, ``young``, ``hv``,
        ``keyed``, ``made`` or ``asks`` has none)."""
        cards = tuple(int(c) for c in data[5]) if len(data) > 5 else ()
        young = float(data[6]) if len(data) > 6 else -1.0
        hv = float(data[7]) if len(data) > 7 else -1.0
        keyed = bool(data[8]) if len(data) > 8 else False
        made = float(data[9]) if len(data) > 9 else -1.0
        asks = bool(data[10]) if len(data) > 10 else False
        harvest, pivot, mm = (float(x) for x in data[2:5])
        centres = tuple(int(c) for c in data[1])
        return cls(bool(data[0]), centres, harvest, pivot, mm, cards, young, hv, keyed, made, asks)


# The empty ``Group.late`` every group starts with, shared (a list per group is 2.5 MB at
# a million accounts): never changed in place.
NOBODY: list[Obs] = []


class Group:
    """One fingerprint key's members, timing and templates, bounded by ``k`` members."""

    __slots__ = (
        "key", "kind", "first_ts", "last_ts", "idx", "hashes", "fps", "rows", "ids",
        "templates", "subject", "fired_ts", "named_ts", "emit_ts", "score_idx", "score_ts", "score",
        "profile", "core", "askers", "top", "late",
    )  # fmt: skip

    def __init__(self, key: str, kind: str, ts: float) -> None:
        self.key, self.kind = key, kind
        self.first_ts = self.last_ts = ts
        self.idx = 0  # signals seen
        self.hashes = array("Q")
        self.fps = array("Q")
        self.rows = array("d")
        self.ids: list[str] = []
        self.templates = Templates()
        self.subject = ""
        self.fired_ts = self.emit_ts = self.score_ts = 0.0
        # When it last named a member no campaign held, while not quiet (see
        # ``CoordinationDetector._waves``: stragglers and released members it names while
        # quiet leave it quiet).
        self.named_ts = 0.0
        # Members that fit after it went quiet, held for a new wave (not saved: a restored
        # group holds them again from their next signals). Replaced, never changed in place.
        self.late: list[Obs] = NOBODY
        self.score_idx = 0
        self.score = 0.0
        self.profile: Profile | None = None  # what members of its campaign show on their own
        self.core: Group | None = None  # the same key, suspect members only (a stratum)
        self.askers: Group | None = None  # the same key, new members that ask (a stratum)
        self.top = 0  # the largest sampled hash, 0 when not known (recomputed on demand)

    def size(self) -> int:
        """Return how many members the sample holds."""
        return len(self.hashes)

    def n_est(self, k: int) -> float:
        """Return the estimated number of distinct accounts (exact below ``k``)."""
        n = len(self.hashes)
        if n < k:
            return float(n)
        return (k - 1) * (U64 / max(1, self._top()))

    def _top(self) -> int:
        top = self.top
        if not top and len(self.hashes):
            top = self.top = max(self.hashes)
        return top

    def _row_of(self, h: int) -> int:
        """Return the sample row holding hash ``h``, or -1.

        A byte search of the packed hashes: ``array.index`` boxes every element it passes
        and raises when the hash is absent, which most signals of a busy group are.
        """
        raw = self.hashes.tobytes()
        needle = h.to_bytes(8, _BYTEORDER)
        i = raw.find(needle)
        while i > 0 and i & 7:  # a match across two elements: search on
            i = raw.find(needle, i + 1)
        return i >> 3 if i >= 0 else -1

    def observe(self, o: Obs, k: int, radius: int) -> int:
        """Fold one signal in; return the member row index, or -1 if not sampled."""
        idx = self.idx
        self.idx = idx + 1
        if o.ts > self.last_ts:
            self.last_ts = o.ts
        if o.fp:
            self.templates.add(o.fp, radius)
        if len(self.hashes) >= k and o.h > self._top():
            return -1  # above every sampled hash of a full sample: neither held nor admitted
        row = self._row_of(o.h)
        if row < 0:
            row = self._admit(o.h, k)
            if row < 0:
                return -1
            self._fill(row, o, idx)
            return row
        r = self.rows
        base = row * F
        # Typed, so that the arithmetic below is on C doubles (unpack_from's are objects).
        timing: tuple[float, float, float, float, float, float, float]
        timing = _TIMING.unpack_from(r, base * 8)
        n, first, _, lidx, gn, gmean, gm2 = timing
        gap = idx - lidx
        gn += 1.0
        d = gap - gmean
        gmean += d / gn
        gm2 += d * (gap - gmean)
        n += 1.0
        _TIMING.pack_into(r, base * 8, n, first, o.ts, idx, gn, gmean, gm2)
        self._attrs(base, n, o, r[base + HARV], r[base + RISK])
        if o.fp:
            self.fps[row] = o.fp
        return row

    def _admit(self, h: int, k: int) -> int:
        hashes = self.hashes
        if len(hashes) < k:
            hashes.append(h)
            self.top = 0
            self.fps.append(0)
            self.rows.extend(_NEW_ROW)
            self.ids.append("")
            return len(hashes) - 1
        top = self._top()
        if h >= top:
            return -1
        row = self._row_of(top)
        hashes[row] = h
        self.top = 0  # the next largest is found when next needed
        return row

    def _fill(self, row: int, o: Obs, idx: int) -> None:
        base = row * F
        # The timing columns; _attrs writes every column after them.
        _TIMING.pack_into(self.rows, base * 8, 1.0, o.ts, o.ts, idx, 0.0, 0.0, 0.0)
        self._attrs(base, 1.0, o, 0.0, 0.0)
        self.fps[row] = o.fp
        self.ids[row] = o.account_id

    def _attrs(self, base: int, n: float, o: Obs, harv: float, risk: float) -> None:
        """Write a member's latest attributes; ``n`` is its signal count, ``harv`` and
        ``risk`` the running values before this signal."""
        harv += (o.harvest - harv) / (n if n < 4.0 else 4.0)
        _ATTRS.pack_into(
            self.rows, (base + AGE) * 8, o.age, harv, o.org, o.net, o.infra, o.client, o.pay, o.pivot,
            o.rate, risk if risk >= o.risk else o.risk, o.dc, o.mm, o.hv, o.sg,
        )  # fmt: skip

    def signals(self, h: int) -> float:
        """How many signals the member of hash ``h`` sent here (0: not sampled)."""
        row = self._row_of(h)
        return self.rows[row * F + N] if row >= 0 else 0.0

    def joined(self, h: int) -> float:
        """When the member of hash ``h`` first signalled here (infinity: not sampled)."""
        row = self._row_of(h)
        return self.rows[row * F + FIRST] if row >= 0 else float("inf")

    def column(self, col: int) -> list[float]:
        """Return one column over all sampled members."""
        return self.rows[col::F].tolist()

    def nbytes(self) -> int:
        """Return an estimate of the memory this group holds."""
        ids = sum(49 + len(s) for s in self.ids)
        return (
            600 + 8 * (len(self.hashes) + len(self.fps) + len(self.rows)) + ids + 8 * len(self.ids)
        )

    def member(self, row: int) -> Obs:
        """Return one sampled member's latest attributes as an :class:`Obs`."""
        r = _ROW.unpack_from(self.rows, row * F * 8)
        return Obs(
            self.hashes[row], self.ids[row], r[LAST], r[AGE], r[HARV],
            self.fps[row], int(r[ORG]), int(r[NET]), int(r[INFRA]), int(r[CLIENT]), int(r[PAY]),
            r[PIVOT], r[RATE], r[RISK], r[DC], r[MM], False, r[HV], r[SG],
        )  # fmt: skip

    def to_dict(self) -> dict[str, object]:
        """Return the group as a JSON-ready dict (for a changelog table)."""
        t = self.templates
        return {
            "v": 3, "key": self.key, "kind": self.kind, "first_ts": self.first_ts,
            "last_ts": self.last_ts, "idx": self.idx, "hashes": self.hashes.tolist(),
            "fps": self.fps.tolist(), "rows": self.rows.tolist(), "ids": self.ids,
            "centres": t.centres, "weights": t.weights, "prevs": t.prevs,
            "subject": self.subject, "fired_ts": self.fired_ts, "named_ts": self.named_ts,
            "emit_ts": self.emit_ts,
            "score_idx": self.score_idx, "score_ts": self.score_ts, "score": self.score,
            "profile": None if self.profile is None else self.profile.to_list(),
            "core": None if self.core is None else self.core.to_dict(),
            "askers": None if self.askers is None else self.askers.to_dict(),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Group:
        """Inverse of :meth:`to_dict`; raise ValueError on a malformed record."""
        version = d.get("v")
        if version not in (1, 2, 3):
            raise ValueError("unknown coordination group record version")
        g = cls(str(d["key"]), str(d["kind"]), float(d["first_ts"]))
        g.last_ts, g.idx = float(d["last_ts"]), int(d["idx"])
        g.hashes, g.fps = array("Q", d["hashes"]), array("Q", d["fps"])
        rows = d["rows"]
        # Columns a record predates, as they read: version 1 has neither HV nor SG (no asks,
        # one turn each), version 2 no SG (one turn each, as for an unknown turn).
        pad = _PADDING.get(version, [])
        if pad:
            w = F - len(pad)
            rows = [x for i in range(0, len(rows), w) for x in [*rows[i : i + w], *pad]]
        g.rows, g.ids = array("d", rows), [str(i) for i in d["ids"]]
        if not len(g.hashes) == len(g.fps) == len(g.ids) == len(g.rows) // F:
            raise ValueError("coordination group record has inconsistent member arrays")
        t = g.templates
        t.centres, t.weights = [int(c) for c in d["centres"]], [float(w) for w in d["weights"]]
        t.prevs = [int(p) for p in d["prevs"]]
        g.subject, g.fired_ts, g.emit_ts = (
            str(d["subject"]),
            float(d["fired_ts"]),
            float(d["emit_ts"]),
        )
        # A record written before ``named_ts``: as if it named a member at its last signal.
        g.named_ts = float(d.get("named_ts", g.last_ts))
        g.score_idx, g.score_ts, g.score = (
            int(d["score_idx"]),
            float(d["score_ts"]),
            float(d["score"]),
        )
        if d["profile"] is not None:
            g.profile = Profile.from_list(d["profile"])
        if d.get("core") is not None:
            g.core = cls.from_dict(d["core"])
        if d.get("askers") is not None:
            g.askers = cls.from_dict(d["askers"])
        return g
