"""Campaigns: stable subjects that collect the findings of every group of one campaign.

Groups of different keys (a template, a payment card, a proxy exit) often see the same
campaign. A bounded member -> campaign map lets a group that fires adopt the subject of a
campaign its members already belong to, so one campaign yields one finding that grows.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

from app.core.coordination_config import CoordinationConfig
from app.core.types import Detection, Evidence

MAX_PAYS: Final = 4096
RECENT: Final = 20  # members a refresh detection lists
NAMED_BY: Final = 8  # group keys a part's ``named_by`` label lists


class Campaign:
    """One campaign: members named so far, latest evidence, and its findings in parts.

    A campaign is one finding (subject ``<campaign>``) whose members are reported in
    parts, each listing at most ``max_named`` new members: the first goes out as soon as
    the campaign is found, later ones when they hold ``max_named`` new members, or, after
    ``flush_s``, at least ``min_part`` and ``part_growth`` of the members named before, or
    any after ``straggler_s``. Parts grow with the campaign, so a campaign of
    thousands of accounts yields a few dozen updates, not hundreds.
    """

    __slots__ = (
        "subject", "first_seen", "last_ts", "parts", "total", "pending", "pending_ts",
        "score", "evidence", "strong", "keys", "pays", "emit_ts", "recent",
        "pending_h", "pending_k",
    )  # fmt: skip

    def __init__(self, subject: str, ts: float) -> None:
        self.subject = subject
        self.first_seen = self.last_ts = ts
        self.parts = 0  # detections emitted so far
        self.total = 0  # members named so far
        self.pending: list[str] = []  # named, not yet in a detection
        self.pending_h: list[int] = []  # their member hashes
        self.pending_k: list[str] = []  # the keys of the groups that named them
        self.pending_ts = 0.0  # when the oldest pending member was named
        self.score = 0.0
        self.evidence: list[Evidence] = []
        self.strong: list[str] = []
        self.keys: list[str] = []  # keys of the groups that fired, first ones kept
        self.pays: set[int] = set()  # payment cards of named members (bounded)
        self.emit_ts = 0.0  # when the last detection went out
        self.recent: list[str] = []  # the last members reported, for refresh detections

    def akin(self, pays: set[int], card_share: float = 0.5) -> bool:
        """Whether a group that just fired is more of this campaign: it holds most of the
        group's cards (a few bystanders named earlier must not chain campaigns).

        Not by template: campaigns compose theirs from the same public wrappers, and a
        stack's popular prompts are its users' (docs/coordination.md "Campaigns and
        findings")."""
        return bool(pays) and len(pays & self.pays) >= card_share * len(pays)

    def update(
        self, key: str, score: float, evidence: list[Evidence], strong: list[str], ts: float
    ) -> None:
        """Take the evidence of a group that (still) scores as this campaign."""
        self.last_ts = max(self.last_ts, ts)
        if key not in self.keys and len(self.keys) < 8:
            self.keys.append(key)
        if score >= self.score or key == self.keys[0]:
            self.score, self.evidence, self.strong = score, evidence, strong

    def add(self, account_id: str, ts: float, pay: int = 0, h: int = 0, key: str = "") -> None:
        """Name one more member, of hash ``h``, through the group of ``key`` (and remember
        its payment card)."""
        if pay and len(self.pays) < MAX_PAYS:
            self.pays.add(pay)
        if not self.pending:
            self.pending_ts = ts
        self.pending.append(account_id)
        self.pending_h.append(h)
        self.pending_k.append(key)
        self.total += 1
        self.last_ts = max(self.last_ts, ts)

    def due(self, ts: float, cfg: CoordinationConfig) -> bool:
        """Whether the next part, or a refresh of a campaign still in action, should go out now.

        A refresh names no new member; it tells the alert policy that the campaign's groups
        still score as a campaign, so its finding stays open while it goes on.
        """
        n = len(self.pending)
        if not n:
            return (
                self.parts > 0
                and ts - self.emit_ts >= cfg.refresh_s
                and self.last_ts > self.emit_ts
            )
        waited = ts - self.pending_ts
        return (
            self.parts == 0
            or n >= cfg.max_named
            or (
                n >= cfg.min_part
                and n >= cfg.part_growth * (self.total - n)
                and waited >= cfg.flush_s
            )
            or waited >= cfg.straggler_s
        )

    def detection(self, detector: str, ts: float, max_named: int) -> Detection:
        """Build the next part's detection from the pending members (a refresh if none)."""
        self.emit_ts = ts
        named_by = ""
        if self.pending:
            accounts, self.pending = self.pending[:max_named], self.pending[max_named:]
            self.pending_h = self.pending_h[max_named:]
            named_by = _tally(self.pending_k[:max_named])
            self.pending_k = self.pending_k[max_named:]
            self.pending_ts = ts
            self.parts += 1
            self.recent = accounts[-RECENT:]
        else:
            accounts = list(self.recent)
        part = self.parts
        return Detection(
            detector=detector,
            subject=self.subject,
            score=round(self.score, 4),
            ts=ts,
            first_seen=self.first_seen,
            evidence=list(self.evidence[:8]),
            accounts=accounts,
            total_accounts=max(self.total, len(accounts)),
            labels={
                "campaign": self.subject,
                "part": str(part),
                "shape": shape(self.strong),
                "families": ",".join(self.strong),
                "keys": ",".join(self.keys[:4]),
                "named_by": named_by,
            },
        )


def _tally(keys: list[str]) -> str:
    """``key=count`` of the groups that named a part's members, the most first (at most
    ``NAMED_BY``; a refresh, naming nobody, has none)."""
    return ",".join(f"{k}={n}" for k, n in Counter(keys).most_common(NAMED_BY))


def shape(strong: list[str]) -> str:
    """Name the campaign shape from its strongest families."""
    if "model_pivot" in strong:
        return "release-pivot"
    if "new_accounts" in strong and ("coordinated_timing" in strong or "shared_payment" in strong):
        return "hydra"
    if "harvest_content" in strong and "new_accounts" not in strong:
        return "blended"
    return "coordinated"


class Members:
    """Bounded maps from member hash, and from group key, to campaign subject.

    The oldest links are dropped first. A group key that fired once keeps its campaign: after
    a restart its group is rebuilt from later traffic (new members, in a hydra), and the key
    alone still says which campaign it belongs to.
    """

    __slots__ = ("cap", "key_cap", "links", "keys", "fresh")

    def __init__(self, cap: int, key_cap: int = 4096) -> None:
        self.cap = cap
        self.links: dict[int, str] = {}
        self.keys: dict[str, str] = {}
        self.key_cap = key_cap
        # links made since the last drain (checkpoint): (member hash or group key, subject)
        self.fresh: list[tuple[int | str, str]] = []

    def get(self, h: int) -> str | None:
        """Return the campaign a member belongs to, if known."""
        return self.links.get(h)

    def link(self, h: int, subject: str) -> bool:
        """Link a member to a campaign; False if it already belongs to one. The link is
        exported only once :meth:`reported` says a detection listed the member."""
        links = self.links
        if h in links:
            return False
        if len(links) >= self.cap:
            del links[next(iter(links))]
        links[h] = subject
        return True

    def reported(self, hashes: list[int], subject: str) -> None:
        """Make the links of these members, now listed in a detection, exportable."""
        for h in hashes:
            if self.links.get(h) == subject:
                self._fresh(h, subject)

    def link_key(self, key: str, subject: str) -> None:
        """Remember that the group of ``key`` fired as part of a campaign."""
        keys = self.keys
        if keys.get(key) == subject:
            return
        if key not in keys and len(keys) >= self.key_cap:
            del keys[next(iter(keys))]
        keys[key] = subject
        self._fresh(key, subject)

    def of_key(self, key: str) -> str | None:
        """Return the campaign the group of ``key`` fired for before, if known."""
        return self.keys.get(key)

    def _fresh(self, link: int | str, subject: str) -> None:
        if len(self.fresh) < self.cap:  # drained at each checkpoint; bounded where none drains
            self.fresh.append((link, subject))

    def drain(self) -> list[tuple[int | str, str]]:
        """Return and forget the links made since the last call."""
        fresh, self.fresh = self.fresh, []
        return fresh

    def restore(self, h: int, subject: str) -> None:
        """Take back a member link saved before a restart (it is not fresh)."""
        if h not in self.links and len(self.links) < self.cap:
            self.links[h] = subject

    def restore_key(self, key: str, subject: str) -> None:
        """Take back a group-key link saved before a restart (it is not fresh)."""
        if key not in self.keys and len(self.keys) < self.key_cap:
            self.keys[key] = subject

    def majority(self, hashes: list[int]) -> str | None:
        """Return the campaign at least half of these members already belong to, if any."""
        votes: dict[str, int] = {}
        for h in hashes:
            s = self.links.get(h)
            if s is not None:
                votes[s] = votes.get(s, 0) + 1
        if not votes:
            return None
        best = max(votes, key=votes.__getitem__)
        return best if 2 * votes[best] >= len(hashes) else None
