"""Tunables of the coordination (hydra-cluster) detector; the defaults are the operating point."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CoordinationConfig:
    """Every threshold of the coordination stage, in one frozen object."""

    detector: str = "hydra-cluster"  # analytic name of campaign detections
    sample_k: int = 64  # members sampled per group (bottom-k by hash)
    min_accounts: int = 5  # a campaign has at least this many accounts
    min_families: int = 3  # independent evidence families that must hold at once
    max_org_share: float = 0.5  # one org holding this share of members is one customer
    new_days: float = 30.0  # an account younger than this is new
    # A member new by its age is at most this much older than nine in ten of its campaign's
    # new members (a campaign's accounts are made in a burst).
    cohort_slack_days: float = 2.0
    template_radius: int = 18  # SimHash distance to a group's template centre that still matches
    # Member harvest evidence over the population median that counts. One harvest-shaped
    # request alone reaches 0.1 to 0.3, and ordinary accounts send such requests too.
    harvest_member: float = 0.15
    # A group where fewer than this share of members harvest does not ask it of each member,
    # as long as two other checks remain (its harvest comes from a stratum, not from all).
    harvest_check_share: float = 0.3
    # A group on shared infrastructure with no anchor family is tied when its members are
    # this much newer than the population (share of the not-new that are new here) and this
    # share of their prompts is on one template.
    tied_new_excess: float = 0.65
    tied_template_share: float = 0.6
    # ... or, where its members ask, when this share of its askers in the group half an
    # hour or more that sit on its template (``tied_template_share`` of its askers at
    # least) are light: one signal, or two four hours apart or more (``sparse_share``).
    tied_sparse_share: float = 0.7
    # A card-keyed group with no anchor family is tied when this share of its members share
    # a network (/24 or ASN + client) with another org's member, or its template is strong.
    tied_net_share: float = 0.5
    timing_min_signals: float = 2.5  # mean signals per member before timing is judged
    score_every: int = 4  # re-score a group after this many signals (or an eighth more) ...
    score_gap_s: float = 600.0  # ... or after this much event time
    max_named: int = 200  # member accounts listed in one detection (one finding part)
    # New members of a campaign reach its finding within flush_s once they are min_part and
    # grow it by part_growth (any after straggler_s): latency of naming new members against
    # the number of updates a campaign finding gets. Growth bounds the count (parts grow
    # geometrically), straggler_s the rate of small parts of a campaign that trickles.
    flush_s: float = 60.0  # a part of at least min_part members goes out after this long
    min_part: int = 5  # (a smaller part waits straggler_s)
    part_growth: float = 0.25  # ... and at least this share of the members named before it
    straggler_s: float = 1200.0  # any pending member goes out after this long
    refresh_s: float = 1200.0  # a campaign still in action re-asserts itself this often
    # A fired group joins an open campaign holding this share of its members' cards (> 1: never).
    kin_card_share: float = 0.5
    # A fired group that named no new member for this long names the next batch that fits
    # (``min_accounts`` at once) as a new wave: another campaign on the same stack or
    # network, reported as its own finding unless its members already belong to one.
    wave_gap_s: float = 2 * 3600.0
    idle_ttl_s: float = 6 * 3600.0  # a group with no signal for this long is dropped
    campaign_ttl_s: float = 24 * 3600.0  # a campaign with no new evidence for this long is dropped
    max_groups: int = 50_000  # groups held at most; the idlest are evicted beyond it
    doorkeeper_bits: int = 20  # admission table of 2**bits slots (8 bytes each)
    max_members_tracked: int = 200_000  # member -> campaign links kept (oldest dropped)
    population_k: int = 512  # accounts sampled for the population baselines
