"""Coordination (hydra-cluster) detection across accounts that share fingerprints.

Every account signal is folded into one bounded group per key it carries (see
:mod:`app.core.coordination_keys`); a group is scored as a campaign or a crowd by
:mod:`app.core.coordination_score`, and a campaign detection names the members whose own
signals fit the campaign. State is bounded: an admission table of fixed size, at most
``max_groups`` groups of at most ``sample_k`` sampled members each, a capped member map.
Per-key processing is self-contained, so the stream layer may shard groups by key; the
subject of a campaign is shared by all groups whose members a detector has already linked.
See docs/coordination.md.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Final

import orjson

from app.core.coordination_campaign import Campaign, Members
from app.core.coordination_config import CoordinationConfig
from app.core.coordination_group import HARV, NOBODY, Group, Obs, Profile
from app.core.coordination_keys import signal_from_event, signal_keys
from app.core.coordination_score import (
    ASK_SHARE,
    SPARSE_ASK,
    SPARSE_MAX,
    SPARSE_SINGLE,
    Population,
    Verdict,
    beyond_chance,
    beyond_selection,
    matches,
    newness,
    score_group,
)
from app.core.coordination_sketch import (
    Doorkeeper,
    PopulationSample,
    key_hash,
    seeded_hash,
    template_from_keys,
)
from app.core.text import HARVEST_FLAGS
from app.core.types import AccountSignal, Detection

__all__ = [
    "CoordinationConfig",
    "CoordinationDetector",
    "signal_from_event",
    "signal_keys",
]


# Sign-up cohorts (day and network) are crowds by nature: they only inform member ages.
IGNORED = frozenset({"cohort", "tpl"})
# Their keys' prefixes: ``str.startswith`` over these is the cheap test of a key's kind.
IGNORED_PREFIXES: Final = tuple(f"{kind}:" for kind in sorted(IGNORED))
# Table key prefix of a group-key link (a member link's key is its 8-byte hash).
GROUP_LINK: Final = b"group:"
# The account stage's accumulated harvest evidence is the member's harvest measure; a signal
# without it (a bare signal_from_event) counts a harvest-flagged request a little.
FLAG_HARVEST: Final = 0.05

# A group's stratum of new members that ask holds those of a window this long from its
# first (until the group fires): a hydra's light accounts ask in a burst, a popular
# stack's new users trickle in over the day and ask the day's popular prompts alike.
ASKERS_WINDOW_S: Final = 3600.0


def routed_keys(keys: Sequence[str]) -> list[str]:
    """The keys of a signal that groups form on, in order; the worker sends a signal only
    to the partitions of these. Ignored kinds (``IGNORED``) never form a group, so
    delivering them is wasted work. A signal with none of them still goes once, under its
    first key, so that the population baseline counts every account (see ``observe``).
    """
    out = [k for k in keys if not k.startswith(IGNORED_PREFIXES)]
    return out if out or not keys else [keys[0]]


def first_routed(keys: Sequence[str]) -> str:
    """The first of :func:`routed_keys` (the key a signal's baseline delivery comes
    under), without building the list; "" for no keys."""
    for k in keys:
        if not k.startswith(IGNORED_PREFIXES):
            return k
    return keys[0] if keys else ""


def _h32(key: str) -> int:
    return zlib.crc32(key.encode()) or 1


class CoordinationDetector:
    """Score groups of accounts that share a fingerprint key; emit campaign detections."""

    def __init__(self, config: CoordinationConfig | None = None, seed: int = 42) -> None:
        self.config = cfg = config or CoordinationConfig()
        self.seed = seed
        self._groups: dict[str, Group] = {}
        self._door = Doorkeeper(cfg.doorkeeper_bits)
        self._members = Members(cfg.max_members_tracked)
        self._campaigns: dict[str, Campaign] = {}
        # Fired groups changed, and fired groups dropped, since the last export_groups().
        self._changed: set[str] = set()
        self._dropped: set[str] = set()
        # Keys of groups holding late members (``_waves``), in the order they began to: a
        # dict, so that ``_settle`` releases them in an order the input decides (a set of
        # strings iterates in the order of the process's string hashes).
        self._holding: dict[str, None] = {}
        self._sample = PopulationSample(cfg.population_k)
        self._pop = Population()
        self._pop_n = 0

    def _harvest_line(self) -> float:
        """Harvest over which a member counts as harvesting: the population median plus
        ``harvest_member``."""
        return self._pop.harvest_median + self.config.harvest_member

    def _obs(self, s: AccountSignal) -> Obs:
        """Summarise a signal once for all of its groups."""
        f = s.features
        net = infra = client = pay = 0  # the hashes of the keys of these kinds
        for key in s.keys:
            if key.startswith("net:"):
                net = _h32(key)
            elif key.startswith("infra:"):
                infra = _h32(key)
            elif key.startswith("client:"):
                client = _h32(key)
            elif key.startswith("pay:"):
                pay = _h32(key)
        harvest = s.harvest or (FLAG_HARVEST if s.flags & HARVEST_FLAGS else 0.0)
        age = -1.0 if s.account_age_days is None else float(s.account_age_days)
        mm = f.get("ua_tls_mismatch", 0.0)
        asks = f.get("harvest_share", -1.0)
        if asks < 0.0:  # a signal without the share: its request's own flags stand for it
            asks = 1.0 if s.flags & HARVEST_FLAGS else 0.0
        traits = (
            (0.0 <= age < self.config.new_days) + (harvest >= self._harvest_line()) + (mm >= 0.5)
        )
        return Obs(
            seeded_hash(s.account_id, self.seed), s.account_id, s.ts, age,
            harvest if harvest < 1.0 else 1.0, s.prompt_fp or template_from_keys(s.keys),
            _h32(s.org_id) if s.org_id else 0, net, infra, client, pay, f.get("new_model", 0.0),
            f.get("rate_per_min", 0.0), s.risk, f.get("datacenter", 0.0), mm, traits >= 2, asks,
            f.get("single_turn", 1.0),
        )  # fmt: skip

    def _baseline(self, o: Obs, asker: bool) -> None:
        if self._sample.wants(o.h):  # most accounts are not in the sample: nothing to build
            new = newness(o.age, self.config.new_days)
            harvesting = float(o.harvest >= self._harvest_line())
            values = (
                new, o.harvest, o.dc, o.mm, o.pivot, float(o.suspect), harvesting, o.rate, o.hv,
                float(asker),
            )  # fmt: skip
            self._sample.add(o.h, values)
        self._pop_n += 1
        if self._pop_n % 256 == 1:
            got = self._sample.stats(skip=self._members.links, medians=(7, 1))
            if got is not None:
                (new_m, harv, dc, mm, pivot, sus, hv, _, share, asking), (rate, harvest) = got
                self._pop = Population(
                    new=new_m, harvest=harv, dc=dc, mm=mm, pivot=pivot, rate=rate,
                    harvest_median=harvest, suspect=sus, new_askers=asking, harvesting=hv,
                    harvest_share=share,
                )  # fmt: skip

    def _new_asker(self, o: Obs) -> bool:
        """Whether the member is new and its recent requests ask for harvest content and
        carry some evidence of it (a hydra's light accounts, below the harvest line; not
        new jobs asking for code reviews of ordinary length, see ``sparse_share``)."""
        return o.hv >= ASK_SHARE and o.harvest > 0.0 and 0.0 <= o.age < self.config.new_days

    def observe(self, signal: AccountSignal, only: Sequence[str] | None = None) -> list[Detection]:
        """Fold one account signal into the groups of its keys; return campaign detections.

        ``only`` folds it into those keys' groups: the worker delivers a signal once per
        partition of the keys (re-keyed across partitions), with the keys that partition
        carries. The signal keeps all its keys either way, since they
        describe the account (its network, client, card) in every group it joins, and it
        counts once in the population baseline, on the delivery of its first routed key
        (:func:`routed_keys`).
        """
        cfg = self.config
        o = self._obs(signal)
        asker = self._new_asker(o)
        if only is None or (signal.keys and first_routed(signal.keys) in only):
            self._baseline(o, asker)
        touched: list[Campaign] = []
        groups = self._groups
        for key in signal.keys if only is None else only:
            g = groups.get(key)
            if g is None:
                kind = key.partition(":")[0]
                if kind in IGNORED or not self._door.admit(key_hash(key, self.seed), o.h):
                    continue
                g = groups[key] = Group(key, kind, o.ts)
                if len(self._groups) > cfg.max_groups:
                    self._evict()
            g.observe(o, cfg.sample_k, cfg.template_radius)
            if o.suspect:
                if g.core is None:
                    g.core = Group(key, g.kind, o.ts)
                g.core.observe(o, cfg.sample_k, cfg.template_radius)
            if asker:
                a = g.askers
                if a is None or (o.ts - a.first_ts > ASKERS_WINDOW_S and not g.subject):
                    a = g.askers = Group(key, g.kind, o.ts)  # a window: a burst, not a day
                a.observe(o, cfg.sample_k, cfg.template_radius)
            if g.subject:
                self._changed.add(key)
                if self._fits(g, o):
                    held = len(g.late)
                    self._waves(g, g, [o], o.ts, touched, batch=False)
                    if held < cfg.min_accounts <= len(g.late):
                        self._score(g, o.ts, touched)  # a new wave's batch: take its campaign
                        continue
            fresh = g.idx - g.score_idx
            if g.size() >= cfg.min_accounts and (
                fresh >= max(cfg.score_every, g.idx // 8)
                or (fresh and o.ts - g.score_ts >= cfg.score_gap_s)
            ):
                self._score(g, o.ts, touched)
        out = []
        for camp in touched:
            if camp.due(o.ts, cfg):
                out.append(self._part(camp, o.ts))
        return out

    def _part(self, camp: Campaign, ts: float) -> Detection:
        """The campaign's next detection. The links of the members it lists become
        exportable only now: a member named but not yet reported has no saved link, so a
        worker restarted before its part went out names it again instead of never."""
        listed = camp.pending_h[: self.config.max_named]
        self._members.reported(listed, camp.subject)
        return camp.detection(self.config.detector, ts, self.config.max_named)

    def _score(self, g: Group, ts: float, touched: list[Campaign]) -> None:
        cfg = self.config
        g.score_idx, g.score_ts = g.idx, ts
        pop = self._pop
        # A group that has not fired keeps no verdict: a crowd's need not be complete.
        v, src = score_group(g, pop, cfg, early=not g.subject), g
        # A group that is a campaign only by what its members ask (the profile checks it)
        # names few of them; a stratum of members that harvest on their own names more.
        names_few = not v.campaign or v.profile.hv >= 0.0
        if names_few and (got := self._stratum(g, g.core, pop.suspect)) is not None:
            v, src = got
        # New members that ask: a hydra whose light accounts' content betrays nothing,
        # among a popular stack's users. Only where the group is no campaign, since it
        # names new members only.
        if not v.campaign and (got := self._stratum(g, g.askers, pop.new_askers)) is not None:
            v, src = got
        g.score = v.score
        if not v.campaign:
            if g.profile is not None and g.profile.keyed:
                # Named by holding a stack nearly all new: once it is not, by nothing.
                g.profile = None
            elif g.profile is not None and g.profile.made >= 0.0:
                # Nor, then, by being one of that stack's batch; its other checks stay.
                g.profile = g.profile.without(batch=True)
            return
        g.profile = self._member_profile(g, v.profile)
        if g.subject and g.subject not in self._campaigns:
            g.subject, g.late = "", NOBODY  # its campaign expired: it fires afresh
        fits, fit = self._fitting(g, src)
        if not fit and not (g.subject and len(g.late) >= cfg.min_accounts):
            return
        if g.subject:
            fits = self._waves(g, src, fits, ts, touched)
        if not g.subject:
            g.fired_ts = g.named_ts = ts
            g.subject = (
                self._members.of_key(g.key)
                or self._members.majority([m.h for m in fits])
                or self._akin(fits)
                or f"campaign-{seeded_hash(g.key, self.seed):016x}"
            )
            self._members.link_key(g.key, g.subject)
        self._changed.add(g.key)
        camp = self._campaigns.get(g.subject)
        if camp is None:
            camp = self._campaigns[g.subject] = Campaign(g.subject, ts)
        strong = [f for f, x in v.strengths.items() if x >= 0.5]
        camp.update(g.key, v.score, v.evidence, strong, ts)
        if camp not in touched:
            touched.append(camp)
        for m in fits:
            if self._name(g.subject, m, touched, g.key):
                g.named_ts = ts

    def _stratum(self, g: Group, s: Group | None, share: float) -> tuple[Verdict, Group] | None:
        """A stratum ``s`` of ``g`` (its suspects, or its new askers) and its verdict, where
        it is a campaign far beyond chance, given the population's ``share`` of such
        accounts: chosen by traits, it must also share something they and the key do not
        imply. Not on the new model: sign-ups trying it in a burst, harvesting or asking,
        on its popular prompts alike, are what its release day looks like."""
        cfg = self.config
        k = cfg.sample_k
        if (
            s is None
            or s.size() < cfg.min_accounts
            or not beyond_chance(s.n_est(k), g.n_est(k), share, cfg)
        ):
            return None
        v = score_group(s, self._pop, cfg, early=True, stratum=True)
        if not v.campaign or v.strengths["model_pivot"] >= 0.5:
            return None
        return (v, s) if beyond_selection(v, g.kind) else None

    def _waves(
        self,
        g: Group,
        src: Group,
        fits: list[Obs],
        ts: float,
        touched: list[Campaign],
        batch: bool = True,
    ) -> list[Obs]:
        """Name the members that fit a fired group, unless they may be a new wave: return
        the members of a new wave, to be named once the group has taken its campaign.

        A group that named no new member for ``wave_gap_s`` while its campaign went on,
        then sees a batch of accounts that were not in it before, sees another campaign on
        the same stack or network: the first campaign's accounts there were named long ago.
        Such late members are held (``Group.late``, at most ``sample_k``) until
        ``min_accounts`` of them, or of the fitting late members one other campaign holds,
        make a batch, which takes the group to the campaign of the batch (``_new_wave``).
        A member the group held before it went quiet (its campaign's straggler) is named in
        the group's campaign at once; one held longer than ``wave_gap_s`` with no batch
        forming, in the campaign the group's other fitting late members joined, or else the
        group's (``_release``).
        Without ``batch`` (a single signal, not a scoring) no batch is taken.
        """
        cfg = self.config
        quiet = g.named_ts
        if ts - quiet <= cfg.wave_gap_s:
            for m in fits:
                if self._name(g.subject, m, touched, g.key):
                    g.named_ts = ts
            return []
        links = self._members.links
        held = list(g.late)
        for m in fits:
            if g.joined(m.h) <= quiet:  # a straggler: the group stays quiet
                self._name(g.subject, m, touched, g.key)
            elif len(held) < cfg.sample_k and all(x.h != m.h for x in held):
                held.append(m)
        keep: list[Obs] = []
        stale: list[Obs] = []
        for m in held:
            if m.h not in links:  # else named since by another group
                (keep if ts - m.ts <= cfg.wave_gap_s else stale).append(m)
        g.late = keep or NOBODY
        if keep:
            self._holding[g.key] = None
        if stale:
            self._release(g, src, stale, touched)
        if not batch:
            return []
        waves = self._waves_of(g, src)
        if len(keep) < cfg.min_accounts and max(waves.values(), default=0) < cfg.min_accounts:
            return []
        if not self._new_wave(g, keep, waves, ts):
            return []
        g.late = NOBODY
        return keep

    def _waves_of(self, g: Group, src: Group) -> dict[str, int]:
        """How many of the members that joined ``g`` since it went quiet and fit it each
        campaign other than its own has named (through their other groups): where a wave
        formed first."""
        links, old, quiet = self._members.links, g.subject, g.named_ts
        waves: dict[str, int] = {}
        for row, h in enumerate(src.hashes):
            other = links.get(h, old)
            if other != old and g.joined(h) > quiet and self._fits(g, src.member(row)):
                waves[other] = waves.get(other, 0) + 1
        return waves

    def _release(self, g: Group, src: Group, late: list[Obs], touched: list[Campaign]) -> None:
        """Name late members held with no batch forming: in the campaign most of the
        group's other fitting late members joined, or else in the group's campaign. (Where
        both campaigns are gone they stay unnamed until their next signal fits a group.)"""
        waves = self._waves_of(g, src)
        wave = max(waves, key=waves.__getitem__) if waves else g.subject
        for m in late:
            if not self._name(wave, m, touched, g.key) and wave != g.subject:
                self._name(g.subject, m, touched, g.key)

    def _new_wave(self, g: Group, batch: list[Obs], waves: dict[str, int], ts: float) -> bool:
        """Give a quiet fired group the campaign of its new wave; False if it has none yet.

        The wave is the campaign at least half of the group's fitting late members belong
        to (``waves``: their other groups named them first; ``batch``: those it holds),
        else one that holds most of the held batch's cards, else, for a batch of
        ``min_accounts``, a campaign of its own: one finding per campaign, not one that
        grows with whatever comes later through a shared stack.
        """
        n = len(batch)
        wave = max(waves, key=waves.__getitem__) if waves else ""
        if not wave or 2 * waves[wave] < sum(waves.values()) + n:
            wave = self._akin(batch)
        if not wave:
            if n < self.config.min_accounts:
                return False
            wave = f"campaign-{seeded_hash(f'{g.key}@{ts:.0f}', self.seed):016x}"
        g.subject = wave
        g.fired_ts = g.named_ts = ts
        self._members.link_key(g.key, wave)
        return True

    def _fitting(self, g: Group, src: Group) -> tuple[list[Obs], bool]:
        """The members of ``src`` that fit ``g``'s campaign profile and whether any does.

        Once ``g`` has fired, members already linked to a campaign cannot be named again,
        so they are not listed; one of them fitting still counts (the campaign goes on).
        """
        if not g.subject:
            fits = [m for m in map(src.member, range(src.size())) if self._fits(g, m)]
            return fits, bool(fits)
        linked = self._members.links
        fits, fit = [], False
        for row, h in enumerate(src.hashes):
            if h not in linked:
                m = src.member(row)
                if self._fits(g, m):
                    fits.append(m)
                    fit = True
            elif not fit and self._fits(g, src.member(row)):
                fit = True
        return fits, fit

    def _member_profile(self, g: Group, profile: Profile) -> Profile:
        """The checks a member of a fired group must pass (see ``matches``).

        Harvest-shaped content can be strong in a group because a stratum of it harvests
        (another campaign on the same client stack, the suspect core): a hydra that
        harvests with content single requests do not betray must still be named by what its
        members do show. So where few members harvest, the harvest check is dropped,
        provided at least two other checks (new, template, pivot, spoofed client) remain.
        """
        if profile.harvest < 0.0:
            return profile
        others = (
            profile.new + bool(profile.centres) + (profile.pivot >= 0.0) + (profile.mm >= 0.0)
            + bool(profile.cards)
        )  # fmt: skip
        if others < 2:
            return profile
        line = self._harvest_line()
        harvs = g.column(HARV)
        if sum(h >= line for h in harvs) >= self.config.harvest_check_share * max(1, len(harvs)):
            return profile
        return profile.without(harvest=True)

    def _akin(self, fits: list[Obs]) -> str:
        """The open campaign a newly fired group belongs to, by its members' cards."""
        pays = {m.pay for m in fits if m.pay}
        for subject, camp in self._campaigns.items():
            if camp.akin(pays, self.config.kin_card_share):
                return subject
        return ""

    def _fits(self, g: Group, o: Obs) -> bool:
        """Whether a member fits its group's campaign profile (see ``matches``)."""
        if g.profile is None:
            return False
        # Named by light askers with harvest evidence, each request opening a conversation:
        # this one is not one of them. A live signal is judged by its own harvest and
        # single-turn share, a rescanned member by its running ones here (``HARV``, ``SG``):
        # one whose second signal carried no harvest is named at the next rescan.
        if g.profile.hv >= SPARSE_ASK and (
            o.harvest <= 0.0 or g.signals(o.h) > SPARSE_MAX or o.sg < SPARSE_SINGLE
        ):
            return False
        camp = self._campaigns.get(g.subject) if g.subject else None
        tied = g.kind == "pay" or (camp is not None and o.pay != 0 and o.pay in camp.pays)
        return matches(g.profile, o, self.config, slack=1 if tied else 0, line=self._harvest_line())

    def _name(self, subject: str, o: Obs, touched: list[Campaign], key: str) -> bool:
        """Name a member in a campaign; False if it was named before (or the campaign is gone)."""
        camp = self._campaigns.get(subject)
        if camp is None or not self._members.link(o.h, subject):
            return False
        camp.add(o.account_id, o.ts, o.pay, o.h, key)
        if camp not in touched:
            touched.append(camp)
        return True

    def _evict(self) -> None:
        """Drop the idlest tenth of the groups that have not fired."""
        idle = sorted((g.last_ts, k) for k, g in self._groups.items() if not g.subject)
        for _, key in idle[: max(1, len(self._groups) // 10)]:
            del self._groups[key]

    def forget(self, lost: Callable[[str], bool]) -> tuple[int, int]:
        """Let go of the groups whose key ``lost`` says another worker owns now, and of the
        campaigns no group held here fired for; return how many of each.

        The new owner restores the fired groups from their table; kept here they would go
        stale and fire on old members if the keys came back. Their records are not emptied
        (they are the new owner's now). A dropped campaign's members waiting for a part
        have no saved link, so the new owner names them again from their next signals.
        """
        keys = [key for key in self._groups if lost(key)]
        for key in keys:
            del self._groups[key]
            self._changed.discard(key)
            self._dropped.discard(key)
        alive = {g.subject for g in self._groups.values() if g.subject}
        gone = [subject for subject in self._campaigns if subject not in alive]
        for subject in gone:
            del self._campaigns[subject]
        return len(keys), len(gone)

    def expire(self, now_ts: float) -> None:
        """Drop groups and campaigns idle for longer than their TTL."""
        cfg = self.config
        stale = [k for k, g in self._groups.items() if now_ts - g.last_ts > cfg.idle_ttl_s]
        for key in stale:
            if self._groups.pop(key).subject:
                self._changed.discard(key)
                if len(self._dropped) < cfg.max_groups:  # bounded where nothing exports
                    self._dropped.add(key)
        done = [s for s, c in self._campaigns.items() if now_ts - c.last_ts > cfg.campaign_ttl_s]
        for subject in done:
            del self._campaigns[subject]

    def due(self, now_ts: float) -> list[Detection]:
        """Emit the parts that are due at ``now_ts`` in campaigns no signal touched lately.

        A part normally goes out when a signal touches its campaign; one that went quiet
        would otherwise keep its last members pending for good.
        """
        cfg = self.config
        self._settle(now_ts - cfg.wave_gap_s)
        out = []
        for camp in self._campaigns.values():
            while camp.due(now_ts, cfg):
                out.append(self._part(camp, now_ts))
        return out

    def _settle(self, before: float) -> None:
        """Release the late members held since before ``before`` (see ``_waves``) in every
        group holding some, signals or not (a group whose campaign is gone lets them go:
        they are named once their next signal fits a group)."""
        links = self._members.links
        for key in list(self._holding):
            g = self._groups.get(key)
            late = [] if g is None or not g.subject else [m for m in g.late if m.h not in links]
            stale = [m for m in late if m.ts < before]
            if g is not None:
                g.late = [m for m in late if m.ts >= before] or NOBODY
                if stale:
                    self._release(g, g, stale, [])
            if g is None or not g.late:
                del self._holding[key]

    def flush(self, now_ts: float) -> list[Detection]:
        """Emit every member named but not yet reported, and every late member a group
        held for a wave that will not come (call at the end of a replay)."""
        self._settle(float("inf"))
        out = []
        for camp in self._campaigns.values():
            while camp.pending:
                out.append(self._part(camp, now_ts))
        return out

    def export_links(self) -> list[tuple[bytes, bytes]]:
        """Campaign links made since the last call, as (key, value) table records.

        A member link's key is its 8-byte hash, exported once a detection listed the member;
        a group link's key is ``group:`` and the group key. A restarted worker restores
        them, so the first group to fire after the restart finds its campaign (by its own
        key, or by its members) and keeps the campaign's subject, hence its finding uid.
        """
        out = []
        for link, subject in self._members.drain():
            key = link.to_bytes(8, "big") if isinstance(link, int) else GROUP_LINK + link.encode()
            out.append((key, subject.encode()))
        return out

    def import_link(self, key: bytes, value: bytes) -> None:
        """Restore one link written by :meth:`export_links`."""
        if key.startswith(GROUP_LINK):
            self._members.restore_key(key[len(GROUP_LINK) :].decode(), value.decode())
        elif len(key) == 8:
            self._members.restore(int.from_bytes(key, "big"), value.decode())
        else:
            raise ValueError(f"not a campaign link record: {key!r}")

    def groups_tracked(self) -> int:
        """Return how many groups are held in memory."""
        return len(self._groups)

    def explain(self) -> list[tuple[str, list[str], float, Verdict]]:
        """Each group's key, sampled member ids, estimated accounts and the verdict it
        would get now (read only): why a group fires or does not, for tracing
        (``tools/group_trace.py``). A group's strata of ``min_accounts`` or more follow it,
        keyed ``KEY (suspects)`` and ``KEY (new askers)``, each with its full verdict, before
        the checks ``_stratum`` adds (beyond chance, off the new model, beyond its
        selection)."""
        pop, cfg = self._pop, self.config
        k = cfg.sample_k
        out = []
        for key, g in self._groups.items():
            out.append((key, [i for i in g.ids if i], g.n_est(k), score_group(g, pop, cfg)))
            for name, s in (("suspects", g.core), ("new askers", g.askers)):
                if s is not None and s.size() >= cfg.min_accounts:
                    v = score_group(s, pop, cfg, stratum=True)
                    out.append((f"{key} ({name})", [i for i in s.ids if i], s.n_est(k), v))
        return out

    def export_group(self, key: str) -> bytes | None:
        """Serialise one group's state (for a changelog table), or None if unknown."""
        g = self._groups.get(key)
        return None if g is None else orjson.dumps(g.to_dict())

    def export_groups(self) -> list[tuple[bytes, bytes]]:
        """Fired groups changed or dropped since the last call, as (key, value) table records.

        Only groups that fired are kept: they carry a campaign's profile and subject, and
        a restarted worker that restores them goes on naming the campaign's new members at
        once. A dropped group's record is empty (a tombstone). Groups that never fired
        fill again from new signals.
        """
        out = [
            (key.encode(), data)
            for key in sorted(self._changed)
            if (data := self.export_group(key)) is not None
        ]
        out += [(key.encode(), b"") for key in sorted(self._dropped)]
        self._changed.clear()
        self._dropped.clear()
        return out

    def import_group(self, key: str, data: bytes) -> None:
        """Restore one group's state from :meth:`export_group` output."""
        g = Group.from_dict(orjson.loads(data))
        if g.key != key:
            raise ValueError(f"group record is for {g.key!r}, not {key!r}")
        self._groups[key] = g
        if g.subject and g.subject not in self._campaigns:
            self._campaigns[g.subject] = Campaign(g.subject, g.fired_ts)
