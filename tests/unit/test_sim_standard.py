"""The standard suite, generated once: the benign traps are real traps, campaigns are all there."""

from __future__ import annotations

import numpy as np
import pytest

from app.events import event_from_dict
from app.sim import Simulation, fitted, load_scenario
from app.sim.defaults import BENIGN_ROLES, CAMPAIGN_KINDS
from app.sim.report import trap_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return Simulation(load_scenario("standard"))


@pytest.fixture(scope="module")
def report(sim: Simulation) -> dict:
    return trap_report(sim)


def test_size_fits_a_two_minute_replay_with_a_meaningful_benign_population(report: dict) -> None:
    assert 800_000 <= report["events"] <= 1_600_000
    assert report["benign_accounts"] >= 20_000
    assert set(BENIGN_ROLES) <= set(report["roles"])


def test_benign_power_users_exceed_sixty_requests_per_minute(report: dict) -> None:
    assert report["benign_accounts_over_60_per_minute"] >= 10


def test_one_system_prompt_is_shared_by_over_a_thousand_benign_accounts(report: dict) -> None:
    assert report["benign_max_accounts_per_system_prompt"] > 1000


def test_one_slash24_is_shared_by_over_a_hundred_benign_accounts(report: dict) -> None:
    assert report["benign_max_accounts_per_slash24"] > 100


def test_every_hydra_account_stays_below_the_median_benign_rate(
    sim: Simulation, report: dict
) -> None:
    hydra_ids = {c.spec.id for c in sim.crews if c.spec.kind == "hydra"}
    counts = np.bincount(sim.cols["acct"], minlength=len(sim.world.accounts))
    hydra = [
        n
        for a, n in zip(sim.world.accounts, counts.tolist(), strict=True)
        if a.role in hydra_ids and n
    ]
    assert len(hydra) >= 500
    assert (
        max(hydra) / ((sim.world.t1 - sim.world.t0) / 86400)
        < report["benign_median_requests_per_day"]
    )


def test_no_single_attribute_separates_benign_from_campaign(sim: Simulation) -> None:
    w = sim.world
    campaign_ids = {c.spec.id for c in sim.crews}
    active = np.bincount(sim.cols["acct"], minlength=len(w.accounts)) > 0
    new = [a.created_ts > w.t0 - 14 * 86400 for a in w.accounts]
    benign_new = sum(
        1 for i, a in enumerate(w.accounts) if active[i] and new[i] and a.role not in campaign_ids
    )
    assert benign_new > 500  # sign-ups happen every day
    dc_asns = {16509, 15169, 8075, 24940, 16276, 14061}
    benign_dc = {
        int(a)
        for a, r in zip(
            sim.cols["acct"],
            (w.nets.rows[n][1] in dc_asns for n in sim.cols["net"].tolist()),
            strict=True,
        )
        if r
    }
    assert (
        sum(1 for i in benign_dc if w.accounts[i].role not in campaign_ids) > 300
    )  # cloud workloads


def test_every_campaign_kind_has_accounts_and_events(sim: Simulation) -> None:
    truth = sim.truth()
    assert {c["kind"] for c in truth["campaigns"]} == set(CAMPAIGN_KINDS)
    assert all(c["accounts"] for c in truth["campaigns"])


def test_the_release_pivot_group_moves_most_traffic_to_the_new_model_within_a_day(
    sim: Simulation,
) -> None:
    w, c = sim.world, sim.cols
    pivot = next(crew for crew in sim.crews if crew.spec.kind == "release-pivot")
    assert w.release_ts is not None
    late = np.isin(c["acct"], pivot.accounts) & (c["ts"] > w.release_ts + 13 * 3600)
    before = np.isin(c["acct"], pivot.accounts) & (c["ts"] < w.release_ts)
    assert late.sum() > 1000
    assert (c["model"][late] == w.new_model).mean() > 0.5
    assert not (c["model"][before] == w.new_model).any()


def test_every_standard_event_passes_the_contract(sim: Simulation) -> None:
    accounts = set(sim.truth()["accounts"])
    n = 0
    for ev in sim.events(raw_text=True):
        # Text fields are checked for type here; fingerprinting them is covered on the smoke suite.
        assert isinstance(ev.pop("prompt"), str)
        assert isinstance(ev.pop("system_prompt", ""), str)
        assert event_from_dict(ev).account_id in accounts
        n += 1
    assert n == sim.n_events


def _busy_hour_shape(sim: Simulation, roles: set[str], hour: int = 14) -> tuple[float, float]:
    """Inter-arrival CV and per-second Fano factor of the roles' aggregate traffic in one hour."""
    w, c = sim.world, sim.cols
    of_role = np.array([a.role in roles for a in w.accounts])[c["acct"]]
    m = of_role & (c["ts"] >= w.t0 + hour * 3600) & (c["ts"] < w.t0 + (hour + 1) * 3600)
    ts = np.sort(c["ts"][m])
    gaps, counts = np.diff(ts), np.bincount((ts - ts[0]).astype(int))
    return float(gaps.std() / gaps.mean()), float(counts.var() / counts.mean())


def test_chat_traffic_arrives_like_the_conversation_trace(sim: Simulation) -> None:
    cv, fano = _busy_hour_shape(sim, {"casual", "release-curious", "shared-egress", "proxy-user"})
    assert abs(cv - fitted.AZURE_CONV_GAP_CV) < 0.3
    assert 0.8 < fano < fitted.AZURE_CONV_FANO + 0.5


def test_coding_agents_are_burstier_than_chat_like_the_agent_trace(sim: Simulation) -> None:
    _, chat_fano = _busy_hour_shape(sim, {"casual"})
    _, fano = _busy_hour_shape(sim, {"power-user"})
    assert chat_fano * 1.5 < fano < fitted.MOONCAKE_FANO


def test_no_event_attribute_value_is_used_by_campaigns_alone(sim: Simulation) -> None:
    w, c = sim.world, sim.cols
    campaign_ids = {crew.spec.id for crew in sim.crews}
    is_campaign = np.array([a.role in campaign_ids for a in w.accounts])
    columns = {
        "max_tokens": c["maxtok"],
        "client": np.array([hash(row) for row in w.clients.rows])[c["client"]],
        "asn": np.array([asn for _, asn, _ in w.nets.rows])[c["net"]],
        "status": c["status"],
        "model": c["model"],
    }
    for name, values in columns.items():
        pairs = np.unique(np.stack([values.astype(np.int64), c["acct"].astype(np.int64)]), axis=1)
        for value in np.unique(pairs[0]):
            users = pairs[1][pairs[0] == value]
            n_campaign = int(is_campaign[users].sum())
            if n_campaign >= 20:
                assert len(users) - n_campaign >= 0.02 * n_campaign, (name, value)


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    ranks = np.empty(len(pos) + len(neg))
    ranks[np.argsort(np.concatenate([pos, neg]), kind="stable")] = np.arange(1, len(ranks) + 1)
    auc = (ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))
    return max(auc, 1 - auc)


def test_hydra_accounts_are_not_separable_by_one_token_statistic(sim: Simulation) -> None:
    w, c = sim.world, sim.cols
    hydra_ids = {crew.spec.id for crew in sim.crews if crew.spec.kind == "hydra"}
    campaign_ids = {crew.spec.id for crew in sim.crews}
    n = np.bincount(c["acct"], minlength=len(w.accounts))
    roles = [a.role for a in w.accounts]
    hydra = np.array([r in hydra_ids for r in roles]) & (n > 0)
    benign = np.array([r not in campaign_ids for r in roles]) & (n > 0)
    for values in (c["ctok"], c["ptok"]):
        mean = np.bincount(
            c["acct"], weights=values.astype(float), minlength=len(w.accounts)
        ) / np.maximum(n, 1)
        assert _auc(mean[hydra], mean[benign]) < 0.95
