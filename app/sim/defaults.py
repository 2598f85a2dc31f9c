"""Default parameter ranges of every benign archetype and campaign kind.

A scenario file overrides any of them; the generator draws one value per account (benign
archetypes) or per campaign from each range.
"""

from __future__ import annotations

# Benign population sizes a scenario sets (numbers of accounts, except enterprise_orgs).
BENIGN_COUNTS = (
    "casual",
    "power",
    "enterprise_orgs",
    "ci_bots",
    "agent_framework",
    "shared_egress",
    "proxy_users",
    "eval_runs",
    "release_curious",
)

# Truth roles of benign accounts (one per archetype).
BENIGN_ROLES = (
    "casual",
    "power-user",
    "enterprise-pipeline",
    "ci-bot",
    "agent-framework",
    "shared-egress",
    "proxy-user",
    "eval-run",
    "release-curious",
)

ARCHETYPE_PARAMS: dict[str, dict[str, tuple[float, float]]] = {
    "population": {
        "new_share": (0.04, 0.09),  # benign accounts created in the last 14 days
        "signup_in_window_share": (0.25, 0.5),  # of those, created during the scenario
        "mobile_share": (0.15, 0.3),
        "datacenter_share": (0.02, 0.06),  # casual users running from a cloud VM / VPN
        "custom_system_share": (0.1, 0.3),
        "adoption_share": (0.03, 0.12),  # sessions on the new model by ordinary users
    },
    "casual": {
        "sessions_per_day": (0.5, 5.0),
        "turns_mean": (1.3, 4.0),
        "turn_gap_s": (15.0, 150.0),
        "token_scale": (0.2, 3.0),
        "output_scale": (0.5, 6.0),  # some people ask for essays, stories and long code
        "diurnal_floor": (0.03, 0.25),
        "peak_hour": (10.0, 22.0),
    },
    "power": {
        "sessions_per_day": (1.5, 5.0),
        "session_tasks": (2.0, 10.0),
        "request_gap_s": (0.4, 2.5),
        "task_turns": (6.0, 60.0),
        "pause_s": (30.0, 900.0),
        "token_scale": (0.5, 1.5),
        "completion_scale": (1.0, 4.0),
        "datacenter_share": (0.15, 0.35),
        "fanout_share": (0.05, 0.3),  # steps that fan out into parallel requests
        "fanout_max": (3.0, 8.0),
    },
    "enterprise": {
        "accounts_per_org": (1.0, 3.0),
        "keys_per_org": (5.0, 60.0),
        "requests_per_day": (500.0, 4000.0),
        "jitter_cv": (0.02, 0.15),
        "business_hours_share": (0.3, 0.6),
    },
    "ci_bot": {
        "period_min": (10.0, 60.0),
        "requests_per_run": (1.0, 4.0),
        "jitter_s": (0.5, 8.0),
    },
    "agent_framework": {
        "sessions_per_day": (0.3, 4.0),
        "messages_per_session": (1.0, 5.0),
        "steps_per_message": (2.0, 6.0),
        "step_gap_s": (0.8, 6.0),
        "big_framework_share": (0.6, 0.75),
        "datacenter_share": (0.1, 0.25),
    },
    "shared_egress": {
        "nat_size": (180.0, 450.0),  # unrelated accounts behind one university / carrier /24
    },
    "eval_run": {
        "items": (250.0, 1319.0),
        "rate_per_s": (1.5, 8.0),
        "cot_share": (0.4, 0.8),
        "new_model_share": (0.3, 0.7),
    },
    "release_curious": {
        "try_share": (0.5, 1.0),
        "extra_sessions": (1.0, 5.0),
        "signup_share": (0.1, 0.3),
    },
}

_SHARED = {
    "new_share": (0.8, 1.0),
    "cohort_days": (0.5, 14.0),
    "payment_shared": (0.5, 1.0),  # share of accounts paying with a card used by others
    "cards_per_payment": (3.0, 30.0),
    "templates": (2.0, 5.0),
    "max_tokens": (1024.0, 16000.0),
    "completion_tokens": (300.0, 2500.0),  # median per campaign
    "prompt_tokens": (150.0, 2500.0),
    "spoof_ua": (0.0, 1.0),  # probability that the campaign sends a browser UA from a script
    "datacenter_share": (0.3, 0.9),
}

CAMPAIGN_PARAMS: dict[str, dict[str, tuple[float, float]]] = {
    "hydra": {
        **_SHARED,
        "accounts": (300.0, 2000.0),
        "rate_vs_benign_median": (0.3, 0.8),
        "exits": (60.0, 300.0),
        "cot_share": (0.3, 0.9),
        "datacenter_share": (0.0, 0.3),
    },
    "cot-harvest": {
        **_SHARED,
        "accounts": (20.0, 150.0),
        "requests_per_day": (60.0, 400.0),
        "gap_cv": (0.1, 0.5),
        "rubric_share": (0.15, 0.35),
        "rewrite_share": (0.05, 0.2),
    },
    "agentic-coding": {
        **_SHARED,
        "accounts": (50.0, 300.0),
        "requests_per_day": (150.0, 1200.0),
        "task_turns": (3.0, 10.0),
        "step_gap_s": (2.0, 10.0),
    },
    "release-pivot": {
        **_SHARED,
        "accounts": (40.0, 200.0),
        "requests_per_day": (100.0, 800.0),
        "gap_cv": (0.1, 0.6),
        "pivot_delay_hours": (1.0, 12.0),
        "pivot_share": (0.5, 0.85),
        "pivot_jitter_min": (5.0, 60.0),
    },
    "blended": {
        **_SHARED,
        "accounts": (10.0, 60.0),
        "harvest_share": (0.05, 0.15),
        "new_share": (0.0, 0.3),
        "payment_shared": (0.0, 0.2),
        "datacenter_share": (0.1, 0.4),
    },
    "scraper": {
        **_SHARED,
        "accounts": (1.0, 1.0),
        "rate_per_s": (0.5, 2.5),
        "templates": (1.0, 2.0),
        "payment_shared": (0.0, 0.0),
        "datacenter_share": (1.0, 1.0),
    },
}
CAMPAIGN_KINDS = tuple(CAMPAIGN_PARAMS)
