"""Score a group: is it a campaign (a conjunction of evidence) or a crowd?

Each behaviour family is a 0..1 strength measured over the group's member sample against the
population baseline. The family a key kind implies (a ``net`` group shares a network by
construction) does not count. A group is a campaign only when several independent families
hold at once, no single one is enough; one organisation's accounts are one customer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from app.core.coordination_config import CoordinationConfig
from app.core.coordination_group import (
    AGE,
    CLIENT,
    FIRST,
    GM2,
    GMEAN,
    GN,
    HARV,
    HV,
    INFRA,
    MM,
    NET,
    ORG,
    PAY,
    PIVOT,
    RATE,
    SG,
    Group,
    Obs,
    Profile,
)  # fmt: skip
from app.core.coordination_group import N as COUNT
from app.core.coordination_keys import DAY_S
from app.core.text import popcount
from app.core.types import Evidence

FAMILIES = ("new_accounts", "shared_template", "harvest_content", "harvest_in_unison",
            "harvest_requests", "shared_infra", "shared_payment", "automation",
            "coordinated_timing", "model_pivot")  # fmt: skip
# Three measures of one behaviour, harvesting: they count once among the families that hold.
HARVEST_FAMILIES = ("harvest_content", "harvest_in_unison", "harvest_requests")
IMPLIED = {
    "tpl": "shared_template",
    "frame": "shared_template",
    "net": "shared_infra",
    "infra": "shared_infra",
    "client": "shared_infra",
    "pay": "shared_payment",
    "cohort": "new_accounts",
}
# Keys that name one user agent and TLS stack (a frame's key holds the stack too): a UA/TLS
# mismatch is the stack's, shared by all its users (browsers behind a TLS-intercepting
# proxy, an unofficial wrapper), and which of them show it depends only on how many
# established accounts had shown the pair by then. In their groups ``automation`` is no
# evidence.
STACK_KINDS = ("infra", "client", "frame")
# Keys that crowds share across old and new accounts alike, so that one held by nearly
# only new, light accounts that ask is itself the trace of a campaign: a client stack (a
# popular one's users are old and new), a template's frame (its users fill the slot
# with their own tasks).
NEW_KEY_KINDS = ("client", "frame")


@dataclass(frozen=True, slots=True)
class Population:
    """Population baselines (shares over a sample of all accounts)."""

    new: float = 0.05
    harvest: float = 0.02
    dc: float = 0.05
    mm: float = 0.02
    pivot: float = 0.05
    rate: float = 0.2  # median requests per minute
    harvest_median: float = 0.0
    suspect: float = 0.02  # share of accounts that show two campaign traits on their own
    new_askers: float = 0.02  # share of accounts that are new and ask for harvest content
    harvesting: float = 0.01  # share of accounts with harvest evidence
    harvest_share: float = 0.1  # mean share of an account's requests that ask for harvest content


class Verdict:
    """The outcome of scoring one group (a plain class: every group scored builds one)."""

    __slots__ = (
        "score", "campaign", "strengths", "values", "top_org", "profile", "blocked", "sparse",
        "tie_share",
    )  # fmt: skip

    def __init__(
        self,
        score: float,
        campaign: bool,
        strengths: dict[str, float],
        values: dict[str, tuple[float, float]] | None,
        profile: Profile,
        blocked: str = "",  # why a group with enough evidence is not a campaign
        top_org: float = 0.0,
        sparse: float = -1.0,  # the share of light askers that tied it (``sparse_share``)
        tie_share: float = 0.0,  # ... and the share that ties (``tied_sparse_share``)
    ) -> None:
        self.score = score
        self.campaign = campaign
        self.strengths = strengths
        self.values = values  # each family's (value, baseline); None: measured in part
        self.top_org = top_org
        self.profile = profile
        self.blocked = blocked
        self.sparse = sparse
        self.tie_share = tie_share

    @property
    def evidence(self) -> list[Evidence]:
        """Every family's evidence, the strongest first (with the share of light askers
        that tied the group, weighted by itself, against the share that ties, where they
        did), then the largest org's share; none for a verdict that stopped early
        (``_crowd``). Built when asked: of the many groups scored, only a campaign's
        evidence is read."""
        values, s = self.values, self.strengths
        if values is None:
            return []
        evidence = [Evidence(f, *values[f], round(s[f], 4)) for f in FAMILIES]
        if self.sparse >= 0.0:
            share = round(self.sparse, 4)
            evidence.append(Evidence("light_askers_share", share, self.tie_share, share))
        evidence.sort(key=lambda e: -e.weight)
        evidence.append(Evidence("one_org_share", self.top_org, 0.0, 0.0))
        return evidence


# A card two accounts share is a family's or a team's; a ring's cards pay for many. Shared
# cards count only once this many sampled members pay with them.
SHARED_CARD_MEMBERS: Final = 3
# One loud account raises a small group's mean harvest alone; a campaign's harvest is spread
# over its accounts. Harvest content counts once this many sampled members harvest.
HARVEST_MEMBERS: Final = 2
# Harvest asks pooled over the group (``harvest_requests``): a hydra's accounts each send a
# request or two, too few for any one of them to show harvesting, but together they ask for
# reasoning, grading, code or tool use far more often than the population does. A member
# asks when most of its recent requests do; the group's share of such requests is tested against the
# population's as a binomial share (a z-score over the sampled members), and must also be
# well above it, with at least ``min_accounts`` members asking.
ASK_SHARE: Final = 0.5
ASK_FLOOR: Final = 0.02  # the population share is taken as at least this, at most 1 minus it
ASK_Z_LO: Final = 2.0  # z-score of no evidence ...
ASK_Z_HI: Final = 4.0  # ... and of full strength
ASK_EXCESS_LO: Final = 0.15  # share of the not-asking population that asks here: none ...
ASK_EXCESS_HI: Final = 0.3  # ... and full strength
# Accounts that harvest among their own legitimate traffic are often established and pay
# their own way, which the identity route misses, but their own harvest measures lean the
# same way as their asks: asks anchor a group whose harvest content is at least half the
# strength at which it anchors alone.
ASK_CONTENT: Final = 0.25
# A hydra's accounts are light users: each sends a request or two and goes quiet while the
# others take their turn. A member that asks, on the group's template, is light once it has
# been in the group ``SPARSE_WAIT_S`` and signalled once, or twice with ``SPARSE_GAP_S`` or
# more between its first signal and now, never more (``SPARSE_MAX``). Scripts and pipelines
# that share a template and ask for code signal every run; people chat in sessions. Jobs
# that run every few hours are as light, on their template and asking for code: a light
# member counts only when its own requests carry harvest evidence (long, reasoning-shaped
# output), which a ring's request or two is sent for and a code review's does not show;
# heavier askers on the template count whatever they carry.
# A ring's request or two each opens a conversation of its own; an agent framework's users
# are as light on their stack and on its template, but each message of theirs runs a tool
# loop of several turns in one conversation: a member most of whose recent requests carry
# on a conversation (a share of single-turn requests under ``SPARSE_SINGLE``) is no light
# member, as a person chatting in sessions is not.
SPARSE_WAIT_S: Final = 1800.0
SPARSE_GAP_S: Final = 4 * 3600.0
SPARSE_MAX: Final = 2.0  # signals a light member sends in a group at most
SPARSE_SINGLE: Final = 0.5
# A group those light askers tied names members all of whose recent requests ask (a ring's
# account of a request or two asks in each; a regular user who asks now and then does not),
# that carry harvest evidence of their own and that have sent at most ``SPARSE_MAX``
# signals in it (``Group.signals``).
SPARSE_ASK: Final = 1.0


def ramp(x: float, lo: float, hi: float) -> float:
    """Map ``x`` linearly from [lo, hi] onto [0, 1], clamped."""
    if x <= lo:
        return 0.0
    if x >= hi:
        return 1.0
    return (x - lo) / (hi - lo)


def _held_apart(values: list[float], orgs: list[float]) -> set[float]:
    """The known values (cards, networks) that members of more than one organisation hold
    (the members without an org count as one org)."""
    first: dict[float, float] = {}  # value -> the first org seen holding it
    multi: set[float] = set()
    for i in range(len(values)):  # two columns of one group: as long as each other
        v, o = values[i], orgs[i]
        if v:
            if not o:
                o = -1.0
            if first.setdefault(v, o) != o:
                multi.add(v)
    return multi


def _shared(values: list[float], orgs: list[float], multi: set[float] | None = None) -> float:
    """Share of known values that a member of another organisation also has (``multi``:
    the values held apart, when known already).

    Accounts of one org sharing a card or a network is one customer; accounts of different
    orgs sharing them is what links a hydra.
    """
    if multi is None:
        multi = _held_apart(values, orgs)
    if not multi:
        return 0.0
    known = shared = 0
    for v in values:
        if v:
            known += 1
            shared += v in multi
    return shared / known


def _shared_values(multi: set[float]) -> tuple[int, ...]:
    """The values held apart (see ``_held_apart``) as sorted integers: a profile's cards."""
    return tuple(sorted(int(v) for v in multi))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _median(values: list[float]) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[len(s) // 2]


def _light(group: Group, pop: Population) -> bool:
    """Whether a group's members are light: their median rate at most twice the
    population's. A ring's accounts each send a request or two."""
    return _median(group.column(RATE)) <= 2.0 * pop.rate


def timing(group: Group) -> tuple[float, float, float]:
    """Return (count overdispersion, median gap CV in group arrivals, mean signals per member)."""
    counts = group.column(COUNT)
    m = len(counts)
    mean = _mean(counts)
    var = 0.0
    for c in counts:
        var += (c - mean) * (c - mean)
    var /= max(1, m - 1)
    hetero = (var - mean) / (mean * mean) if mean > 0 else 0.0
    gn, gmean, gm2 = group.column(GN), group.column(GMEAN), group.column(GM2)
    cvs = [math.sqrt(gm2[i] / gn[i]) / gmean[i] for i in range(m) if gn[i] >= 2 and gmean[i] > 0]
    return hetero, (_median(cvs) if len(cvs) >= 5 else 1.0), mean


# Families a benign crowd of new sign-ups does not show: what they ask for, a shared card,
# a client that lies about itself. At least one must hold, or one of two ties that crowds
# do not show either (``_tied``).
ANCHORS = ("harvest_content", "shared_payment", "automation")
NEW_FULL_DAYS: Final = 7.0  # an account this young counts fully new; the weight fades to new_days


def newness(age: float, new_days: float) -> float:
    """Return how new an account is: 1 up to a week old, fading to 0 at ``new_days``."""
    if age < 0.0:
        return 0.0
    return ramp(new_days - age, 0.0, new_days - NEW_FULL_DAYS)


def _org_top(orgs: list[float]) -> float:
    per_org: dict[float, int] = {}
    for o in orgs:
        if o:
            per_org[o] = per_org.get(o, 0) + 1
    return max(per_org.values(), default=0) / max(1, len(orgs))


def _independent(families: list[str]) -> int:
    """How many independent families hold: the harvest families (``HARVEST_FAMILIES``) are
    measures of one behaviour and count once."""
    harvest = sum(1 for f in families if f in HARVEST_FAMILIES)
    return len(families) - harvest + (harvest > 0)


def sparse_share(group: Group, centres: tuple[int, ...], cfg: CoordinationConfig) -> float:
    """The share of a group's askers on one of its template ``centres`` that are light
    (see ``SPARSE_WAIT_S``), counting the members that have been in the group long enough
    to tell. A light member whose requests carry no harvest evidence of its own is left
    out: a ring's account and a job that runs every few hours look the same there. 0
    unless at least ``min_accounts`` of them are on the template and they are
    ``tied_template_share`` of its askers: the template is the askers', which the stack's
    other users, who do not ask, would dilute in the group's own share."""
    now, radius = group.last_ts, cfg.template_radius
    counts, firsts, asks = group.column(COUNT), group.column(FIRST), group.column(HV)
    harvs, singles = group.column(HARV), group.column(SG)
    askers = on = light = 0
    rows = zip(group.fps, counts, firsts, asks, harvs, singles, strict=True)
    for fp, n, first, hv, harv, single in rows:
        stay = now - first
        if stay < SPARSE_WAIT_S or hv < ASK_SHARE or not fp:
            continue
        is_light = n <= min(SPARSE_MAX, 1.0 + stay / SPARSE_GAP_S) and single >= SPARSE_SINGLE
        if is_light and harv <= 0.0:
            continue
        askers += 1
        if on_template(fp, centres, radius):
            on += 1
            light += is_light
    if on < cfg.min_accounts or on < cfg.tied_template_share * askers:
        return 0.0
    return light / on


def asking(group: Group, pop: Population, min_accounts: int) -> tuple[float, float]:
    """Return (strength, share) of ``harvest_requests``: the members' mean share of
    requests asking for harvest content, tested against the population's (see ``ASK_SHARE``)."""
    shares = group.column(HV)
    m = len(shares)
    total, asking_n = 0.0, 0
    for x in shares:
        total += x
        if x >= ASK_SHARE:
            asking_n += 1
    share = total / m if m else 0.0
    if asking_n < min_accounts:
        return 0.0, share
    p = min(max(pop.harvest_share, ASK_FLOOR), 1.0 - ASK_FLOOR)
    z = (share - p) * math.sqrt(m / (p * (1.0 - p)))
    excess = (share - p) / (1.0 - p)
    return min(ramp(z, ASK_Z_LO, ASK_Z_HI), ramp(excess, ASK_EXCESS_LO, ASK_EXCESS_HI)), share


def _tied(
    implied: str,
    template: bool,
    new_excess: float,
    tpl_share: float,
    tpl_hits: int,
    net_share: float,
    cfg: CoordinationConfig,
) -> bool:
    """Whether a group without an anchor family is still tied as campaigns are, not crowds.

    A group keyed by one card holds the shared card by construction; it is tied when its
    members also share a network (not merely a popular client) or a template that at least
    ``min_accounts`` of the sampled members use (``tpl_hits``; it binds where the sample
    holds under about ten prompts): a family or team card alone pays for people who
    otherwise act apart, and two or three of a handful of them on the day's popular prompts
    is chance. A group keyed by shared infrastructure (``net``, ``infra``, ``client``) is
    tied when nearly all its members are new and most of their prompts sit on one template:
    unrelated new accounts, one stack, one script. Benign crowds of sign-ups on one stack
    are a mix of new and old accounts, asking their own questions.
    """
    if implied == "shared_payment":
        return net_share >= cfg.tied_net_share or (template and tpl_hits >= cfg.min_accounts)
    return (
        implied == "shared_infra"
        and new_excess >= cfg.tied_new_excess
        and tpl_share >= cfg.tied_template_share
    )


# The families a group's key implies under which ``_tied`` can hold.
TIED_KINDS = ("shared_payment", "shared_infra")


def _crowd(s: dict[str, float], implied: str) -> Verdict:
    """The verdict of a group that cannot be a campaign for want of an anchor: the
    families measured so far and a score over them, no evidence."""
    if implied:
        s[implied] = 1.0
    return Verdict(_combined(s), False, s, None, Profile(), "no_anchor")


def _combined(s: dict[str, float]) -> float:
    """A group's score: each family's strength halves the doubt left by the others."""
    return 1.0 - math.prod(1.0 - 0.5 * s[f] for f in FAMILIES)


def score_group(
    group: Group,
    pop: Population,
    cfg: CoordinationConfig,
    early: bool = False,
    stratum: bool = False,
) -> Verdict:
    """Measure every family over the member sample and decide campaign or crowd.

    ``stratum``: the group is a group's stratum (its suspects, or its new askers), chosen
    for being new among other traits, so its newness says nothing of its client stack (no
    ``keyed`` anchor), and for asking or harvesting, so its light askers tie nothing
    (no ``sparse_share``).

    With ``early`` a group that cannot be a campaign for want of an anchor (see
    ``ANCHORS`` and ``_tied``) is returned as soon as that is known: its verdict holds the
    families measured so far, a score over them and no evidence (``_crowd``). Most groups
    scored are such crowds, and the rest of the families cost as much again: the anchors
    are measured first, then only what a tie of the group's kind needs.
    """
    m = group.size()
    orgs = group.column(ORG)
    s: dict[str, float] = dict.fromkeys(FAMILIES, 0.0)
    values: dict[str, tuple[float, float]] = {}
    implied = IMPLIED.get(group.kind, "")

    # The anchors first: a group without one is a crowd unless it is tied (``_tied``),
    # which only groups on a card or on shared infrastructure can be. The exits below
    # follow ``_tied``'s conditions (tests/unit/test_coordination_score.py holds them to it).
    harvs = group.column(HARV)
    harv = _mean(harvs)
    line = pop.harvest_median + cfg.harvest_member
    content = ramp(harv - pop.harvest_median, 0.05, 0.2)
    if content > 0.0 and sum(1 for h in harvs if h >= line) >= HARVEST_MEMBERS:
        s["harvest_content"] = content
    values["harvest_content"] = (harv, pop.harvest_median)
    s["harvest_requests"], share = asking(group, pop, cfg.min_accounts)
    values["harvest_requests"] = (share, pop.harvest_share)

    pays = group.column(PAY)
    cards_apart = _held_apart(pays, orgs)
    pay = _shared(pays, orgs, cards_apart)
    known = sum(1 for p in pays if p)
    carded = known >= 3 and round(pay * known) >= SHARED_CARD_MEMBERS
    if carded:
        s["shared_payment"] = ramp(pay, 0.15, 0.4)
    values["shared_payment"] = (pay, 0.0)

    mm = _mean(group.column(MM))
    if group.kind not in STACK_KINDS:
        s["automation"] = ramp(mm - pop.mm, 0.15, 0.45)
    values["automation"] = (mm, pop.mm)

    anchored = any(s[a] >= 0.5 and a != implied for a in ANCHORS)
    # Harvest asks pooled over the group anchor it only where its members' identity is weak
    # too (new, and paying with cards other orgs share, or nearly all the users of their
    # client stack new) or their own harvest leans the same way (``ASK_CONTENT``): the
    # users of one agent framework, or new sign-ups among a client's users, ask alike.
    asks = s["harvest_requests"] >= 0.5
    crowd = early and not anchored and not asks
    if crowd and implied not in TIED_KINDS:
        return _crowd(s, implied)

    # The mean newness (see ``newness``) of the members whose age is known, inline: it is
    # the commonest sum here.
    new_days = cfg.new_days
    fade = new_days - NEW_FULL_DAYS
    total, aged = 0.0, 0
    for a in group.column(AGE):
        if a >= 0.0:
            aged += 1
            x = new_days - a
            if x > 0.0:
                total += 1.0 if x >= fade else x / fade
    new = total / aged if aged else 0.0
    new_excess = 0.0  # share of the members not new in the population that are new here
    if aged * 2 >= m:
        new_excess = (new - pop.new) / max(1e-6, 1.0 - pop.new)
        s["new_accounts"] = ramp(new_excess, 0.15, 0.45)
    values["new_accounts"] = (new, pop.new)
    by_asks = False  # anchored by what its members ask (and their identity or harvest)
    by_cards = False  # ... with a weak identity: new, on cards other orgs share
    # ... or nearly all new on one client stack or template frame (the tie's newness)
    new_stack = (
        group.kind in NEW_KEY_KINDS
        and not stratum
        and new_excess >= cfg.tied_new_excess
        and _light(group, pop)
    )
    # Anchored by its members' own harvest (or cards other orgs share) where asks on a stack
    # of new accounts would have anchored it too: the stack names its batch as well (the
    # profile's ``made``, see ``matches``).
    stack_too = asks and new_stack and anchored
    if asks and not anchored:
        by_cards = s["new_accounts"] >= 0.5 and carded and implied != "shared_payment"
        anchored = by_asks = by_cards or new_stack or s["harvest_content"] >= ASK_CONTENT
        crowd = early and not anchored
        if crowd and implied not in TIED_KINDS:
            return _crowd(s, implied)
    if crowd and implied == "shared_infra" and new_excess < cfg.tied_new_excess and not asks:
        return _crowd(s, implied)

    centres = group.templates.established()
    fps = [fp for fp in group.fps if fp]
    tpl_share, hits = 0.0, 0
    if centres and len(fps) >= 3:
        radius = cfg.template_radius
        for fp in fps:
            for c in centres:
                if popcount(fp ^ c) <= radius:
                    hits += 1
                    break
        tpl_share = hits / len(fps)
        s["shared_template"] = ramp(tpl_share, 0.3, 0.7)
    values["shared_template"] = (tpl_share, 0.0)

    net_share = -1.0  # shared networks, measured where a verdict needs them
    if not anchored or by_asks:
        template = s["shared_template"] >= 0.5 and implied != "shared_template"
        if implied == "shared_payment":
            net_share = max(_shared(group.column(NET), orgs), _shared(group.column(INFRA), orgs))
        tied = _tied(implied, template, new_excess, tpl_share, hits, net_share, cfg)
        anchored = anchored or tied
        by_asks = by_asks and not tied
    sparse = -1.0  # the share of light askers, where they tied it (``sparse_share``)
    # Not in a stratum: it was chosen for asking or harvesting, what the tie measures.
    if not anchored and asks and implied == "shared_infra" and centres and not stratum:
        sparse = sparse_share(group, centres, cfg)
        anchored = sparse >= cfg.tied_sparse_share
        sparse = sparse if anchored else -1.0
    if early and not anchored:
        return _crowd(s, implied)

    # Every member harvesting alike, where the population almost never does: unrelated
    # accounts behaving as one.
    unison = sum(h >= line for h in harvs) / max(1, m)
    if pop.harvesting <= 0.05:
        s["harvest_in_unison"] = ramp(unison, 0.7, 0.9)
    values["harvest_in_unison"] = (unison, pop.harvesting)

    if net_share < 0.0:
        net_share = max(_shared(group.column(NET), orgs), _shared(group.column(INFRA), orgs))
    # A frame's key holds its client stack: sharing it is the key's, not evidence.
    infra = (
        net_share if group.kind == "frame" else max(net_share, _shared(group.column(CLIENT), orgs))
    )
    s["shared_infra"] = ramp(infra, 0.3, 0.8)
    values["shared_infra"] = (infra, 0.0)

    hetero, cv, per_member = timing(group)
    if per_member >= cfg.timing_min_signals and m >= cfg.min_accounts:
        even = ramp(0.8 - hetero, 0.0, 0.6) if _light(group, pop) else 0.0
        s["coordinated_timing"] = max(even, ramp(0.8 - cv, 0.0, 0.4))
    values["coordinated_timing"] = (hetero, 1.0)

    pivot = _mean(group.column(PIVOT))
    s["model_pivot"] = ramp(pivot - pop.pivot, 0.2, 0.45)
    values["model_pivot"] = (pivot, pop.pivot)

    if implied:
        s[implied] = 1.0
    explicit = [
        f for f in FAMILIES
        if s[f] >= 0.5 and f != implied and not (f == "shared_template" and group.kind == "sys")
    ]  # fmt: skip
    top_org = _org_top(orgs)
    blocked = ""
    if group.n_est(cfg.sample_k) < cfg.min_accounts:
        blocked = "too_few_accounts"
    elif top_org >= cfg.max_org_share:
        blocked = "one_org"
    elif not anchored:
        blocked = "no_anchor"
    elif (n := _independent(explicit)) + (1 if implied else 0) < cfg.min_families or n < 2:
        blocked = "no_conjunction"
    score = _combined(s)
    new_check = s["new_accounts"] >= 0.5 and implied != "new_accounts"
    # A group that is a campaign by what its members ask names those that ask and, where
    # their identity anchored it, are new and pay with a card other orgs share (else those
    # that ask and harvest over the line, see ``matches``): its template, if any, did not
    # make it one.
    profile = Profile(
        new=new_check,
        centres=centres
        if s["shared_template"] >= 0.5 and implied != "shared_template" and not by_asks
        else (),
        harvest=line if s["harvest_content"] >= 0.5 else -1.0,
        pivot=max(0.3, pop.pivot + 0.15) if s["model_pivot"] >= 0.5 else -1.0,
        mm=max(0.3, pop.mm + 0.15) if s["automation"] >= 0.5 else -1.0,
        cards=_shared_values(cards_apart)
        if (s["shared_payment"] >= 0.5 or (by_asks and by_cards)) and implied != "shared_payment"
        else (),
        young=cohort_age(group, cfg) if new_check and not blocked else -1.0,
        hv=ASK_SHARE if by_asks else SPARSE_ASK if sparse >= 0.0 else -1.0,
        keyed=by_asks and new_stack and not by_cards,
        made=(group.fired_ts or group.last_ts) if stack_too else -1.0,
        asks=asks,
    )
    if profile.harvest_only():
        profile = profile.with_harvest(_harvest_bar(harvs, line))
    return Verdict(
        score, not blocked, s, values, profile, blocked, top_org, sparse, cfg.tied_sparse_share
    )


# Where its harvest is a member's only check, one harvesting less than this share of what
# the group's harvesting members typically do does not harvest like them.
HARVEST_LIKE: Final = 0.5


def _harvest_bar(harvs: list[float], line: float) -> float:
    """The harvest a member of a campaign named by its harvest alone shows: over the
    population's ``line``, and at least ``HARVEST_LIKE`` of the median of the group's
    members over it. A campaign whose accounts harvest heavily does not name, beside them,
    a user of their client stack whose long answers and a reasoning request or two lift it
    just over the line."""
    over = [h for h in harvs if h >= line]
    typical = HARVEST_LIKE * _median(over) if over else 0.0
    return typical if typical > line else line


def cohort_age(group: Group, cfg: CoordinationConfig) -> float:
    """The oldest a member may be to count as new by its age: the age under which nine in
    ten of the group's new members fall, plus ``cohort_slack_days``.

    A campaign's accounts are made in a burst, so they are about as young as each other;
    an account new by the ``new_days`` line but older than the campaign's own is a
    bystander that happens to be new. Where the members' new accounts spread up to the
    line, so does the bound. Negative (no bound) when no member is new.
    """
    oldest = cfg.new_days - 0.5 * (cfg.new_days - NEW_FULL_DAYS)  # newness 0.5
    ages = sorted(a for a in group.column(AGE) if 0.0 <= a <= oldest)
    if not ages:
        return -1.0
    return ages[int(0.9 * (len(ages) - 1))] + cfg.cohort_slack_days


# The families a suspect stratum is selected by (see ``CoordinationDetector._obs``).
SELECTED = frozenset(("new_accounts", *HARVEST_FAMILIES, "automation"))


def beyond_chance(suspects: float, members: float, share: float, cfg: CoordinationConfig) -> bool:
    """Whether a group's stratum (``suspects`` of its ``members``, estimated; its suspects
    or its new askers) is far more than the population's ``share`` of such accounts
    predicts: three times as many, plus ``min_accounts``.

    The share is measured over a sample of at most ``population_k`` accounts (the sampled
    accounts not named in a campaign), which cannot tell a share under one in
    ``population_k`` from none; it is taken as at least that. Otherwise,
    once every campaign in the sample is named (named accounts leave the baseline), five
    release-day sign-ups asking for reasoning among a popular client's hundreds of users
    would be a stratum beyond chance.
    """
    share = share if share * cfg.population_k >= 1.0 else 1.0 / cfg.population_k
    return suspects >= 3.0 * members * share + cfg.min_accounts


def beyond_selection(v: Verdict, kind: str) -> bool:
    """Whether a stratum's verdict rests on a family its selection and its key do not imply."""
    implied = IMPLIED.get(kind, "")
    return any(x >= 0.5 for f, x in v.strengths.items() if f not in SELECTED and f != implied)


# The share of its recent traffic on a newly released model that puts a member on it.
ON_NEW_MODEL = 0.5
# A hydra's light account harvests by a request or two, so the harvest evidence of its
# accounts straddles the line: one long reasoning answer lands above it, a shorter one below.
# A member new within the cohort and on one of the templates, two checks passed, harvests
# with the campaign at this share of the profile's harvest line (see ``matches``).
NEAR_LINE: Final = 0.5


def on_template(fp: int, centres: tuple[int, ...], radius: int) -> bool:
    """Whether a SimHash lies within ``radius`` bits of one of the centres."""
    return fp != 0 and any(popcount(fp ^ c) <= radius for c in centres)


def matches(
    profile: Profile, obs: Obs, cfg: CoordinationConfig, slack: int = 0, line: float = -1.0
) -> bool:
    """Whether one member's own signal fits the campaign profile of its group.

    Each strong family of the group that a single account can show (new, on one of the
    templates, harvesting, on the new model, spoofed client) is a check. A member must pass
    all of them; ``slack`` checks may be missed by a member already tied to the campaign by
    a shared payment card. One check alone names members only if it is a spoofed client or
    clear harvesting: being new, or on the new model, is what crowds share too. Where the
    group's cards are shared across orgs, paying with one of them is a second check then.

    For the same reason a member not tied by a card must pass a check crowds lack (on the
    template, harvesting, spoofed client, a shared card): new sign-ups trying a model on
    its release day are new and on the new model and nothing more. Where harvesting is the
    only such check, the member's harvest must be clear, as for a lone check: one
    reasoning-shaped request from a new account is no campaign's work.

    Asking for harvest-shaped output (a profile's ``hv``, from ``harvest_requests``) is a
    trait crowds share too: an ordinary user asks for steps or for code. A member named
    for it must pay with one of the cards other orgs share in the group, where the profile
    keeps them (its members' weak identity anchored the group), or be on the client stack
    keying a group nearly all of whose users are new (the profile's ``keyed``), or else
    show a trait crowds lack (a spoofed client), or, asking being its lone check, harvest
    over the population's ``line``. Asking beside other traits crowds share (new, on the
    new model) and nothing else names nobody.

    A member new within the campaign's cohort and on one of its templates passes the
    harvest check at ``NEAR_LINE`` of the profile's line: its request or two are of the
    shape of those of the campaign's accounts over the line, each with less evidence (a
    shorter answer, say).

    An established member on one of the templates whose harvest is over the population's
    ``line`` (its median plus ``harvest_member``; negative: never) passes the new check:
    the campaign that mixes its harvest into its own accounts' traffic is not new, and
    established crowds on a template do not harvest. Where the profile checks harvesting
    too, that harvest must be ``harvest_member`` over the profile's line, so that one
    harvest does not pass two checks.

    A group that another anchor made a campaign (its members' own harvest, or cards other
    orgs share), on a client stack nearly all of whose users are new and ask (where asks
    would have anchored it too, see ``score_group``), names by that anchor: a clear
    harvest, which a hydra's account of a request or two rarely shows, or a card. So it
    also names a member that is new, within the cohort, asks and harvests over the
    population's ``line``, if the account was made before the group fired (the profile's
    ``made``): a campaign makes its accounts before it runs them, release-day sign-ups on
    the same stack come after.

    A member on the newly released model (``ON_NEW_MODEL`` of its recent traffic) does not
    fit a profile without a pivot check unless a card ties it (``slack``): new, on a template
    near the campaign's and harvesting, a sign-up trying the model on its release day
    passes every other check. Nor, where the group's members ask (``harvest_requests``
    holds, the profile's ``asks``), does a member none of whose recent requests asked for
    harvest-shaped output: new sign-ups on a ring's stack near its template are new and on
    it, and ask for nothing the ring asks for.
    """
    if profile.pivot < 0.0 and obs.pivot >= ON_NEW_MODEL and not slack:
        return False  # on the new model, where the campaign is not: a release day's crowd
    if profile.asks and obs.hv <= 0.0 and not slack:
        return False  # the campaign's members ask; this one asked for nothing
    if (
        profile.made >= 0.0
        and obs.hv >= ASK_SHARE
        and _young(profile, obs, cfg)
        and 0.0 <= obs.ts - obs.age * DAY_S <= profile.made
        and 0.0 <= line <= obs.harvest
    ):
        return True  # one of the batch of a stack of new accounts that ask
    crowd = crowd_hits = 0  # traits a crowd shares: new, on the new model, asking
    strong: list[bool] = []  # traits it lacks
    on_tpl = bool(profile.centres) and on_template(obs.fp, profile.centres, cfg.template_radius)
    young = profile.new and _young(profile, obs, cfg)
    if profile.new:
        crowd += 1
        if profile.harvest >= 0.0 and line >= 0.0:
            line = max(line, profile.harvest) + cfg.harvest_member  # harvest counts once
        crowd_hits += young or (on_tpl and 0.0 <= line <= obs.harvest)
    if profile.centres:
        strong.append(on_tpl)
    if profile.harvest >= 0.0:
        near = young and on_tpl  # new within the cohort, on a template: half the line
        strong.append(obs.harvest >= (profile.harvest * NEAR_LINE if near else profile.harvest))
    if profile.pivot >= 0.0:
        crowd += 1
        crowd_hits += obs.pivot >= profile.pivot
    if profile.mm >= 0.0:
        strong.append(obs.mm >= profile.mm)
    if profile.hv >= 0.0:
        crowd += 1
        crowd_hits += obs.hv >= profile.hv
    if profile.keyed:
        # The group's key: one client stack nearly all of whose users are new, where they
        # ask far more than the population does. A member holds it by construction; the
        # users of a popular client are not all new.
        strong.append(True)
    if profile.cards and (crowd + len(strong) < 2 or (profile.hv >= 0.0 and not strong)):
        # A lone check is too little; a card that members of other orgs share makes two.
        # Where members are named by asking, the card is the trait a crowd lacks.
        strong.append(obs.pay in profile.cards)
    checks = crowd + len(strong)
    if checks == 1:
        # A lone check must be a trait crowds lack, and clearly so: asking for harvest
        # content, the member must also harvest over the population's line.
        if profile.mm >= 0.0:
            return strong == [True]
        if profile.hv >= 0.0:
            return obs.hv >= profile.hv and 0.0 <= line <= obs.harvest
        return _clear_harvest(profile, obs, cfg)
    if checks < 2 or crowd_hits + sum(strong) < checks - slack:
        return False
    if slack:
        return True  # tied by a card
    if len(strong) == 1 and profile.harvest >= 0.0:
        return _clear_harvest(profile, obs, cfg)
    return any(strong)


def _young(profile: Profile, obs: Obs, cfg: CoordinationConfig) -> bool:
    """Whether a member is new by its age and no older than the campaign's cohort."""
    return newness(obs.age, cfg.new_days) >= 0.5 and (
        profile.young < 0.0 or obs.age <= profile.young
    )


def _clear_harvest(profile: Profile, obs: Obs, cfg: CoordinationConfig) -> bool:
    """Whether a member harvests clearly: ``harvest_member`` above the profile's line."""
    return profile.harvest >= 0.0 and obs.harvest >= profile.harvest + cfg.harvest_member
