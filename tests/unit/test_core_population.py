"""Population context: model releases, client stacks, the population model."""

from __future__ import annotations

import random

from app.core.models import FEATURES, PopulationModel
from app.core.population import ClientStacks, ModelCatalog, client_family

T0 = 1_767_225_600.0


def test_models_seen_during_warmup_are_established() -> None:
    cat = ModelCatalog(warmup_s=3600, new_for_s=86400)
    assert cat.is_new("old", T0) is False
    assert cat.is_new("old-2", T0 + 1800) is False
    assert cat.is_new("fresh", T0 + 7200) is True
    assert cat.is_new("fresh", T0 + 7200 + 3600) is True
    assert cat.is_new("fresh", T0 + 7200 + 86400) is False  # no longer new a day later
    assert cat.is_new("old", T0 + 7200) is False
    assert cat.newest() == "fresh"


def test_client_family_is_the_product_token() -> None:
    assert client_family("Mozilla/5.0 (X11; Linux)") == "mozilla"
    assert client_family("python-requests/2.31") == "python-requests"
    assert client_family(None) == ""


def test_stack_mismatch_needs_history_and_rarity() -> None:
    stacks = ClientStacks(min_accounts=20, max_share=0.05)
    for _ in range(10):
        stacks.learn("mozilla", "chrome-tls")
    assert stacks.mismatch("mozilla", "curl-tls") is False  # too little history yet
    for _ in range(90):
        stacks.learn("mozilla", "chrome-tls")
    stacks.learn("mozilla", "firefox-tls")
    assert stacks.mismatch("mozilla", "chrome-tls") is False
    assert stacks.mismatch("mozilla", "curl-tls") is True
    assert stacks.mismatch("unknown-client", "x") is False


def _x(rng: random.Random, anomalous: bool = False) -> dict[str, float]:
    if anomalous:
        return dict.fromkeys(FEATURES, 0.98)
    return {name: min(1.0, max(0.0, rng.gauss(0.2, 0.05))) for name in FEATURES}


def test_population_model_scores_outliers_higher_and_is_seeded() -> None:
    scores = []
    for _ in range(2):
        rng = random.Random(1)
        model = PopulationModel(seed=42, window_size=50)
        for _ in range(400):
            model.score_then_learn(_x(rng), flagged=False)
        assert model.warm
        normal = model.score_then_learn(_x(rng), flagged=False)
        odd = model.score_then_learn(_x(rng, anomalous=True), flagged=False)
        assert odd > normal + 0.2
        scores.append((normal, odd))
    assert scores[0] == scores[1]


def test_population_model_never_learns_flagged_or_anomalous() -> None:
    rng = random.Random(2)
    model = PopulationModel(seed=42, window_size=50, threshold=0.9)
    for _ in range(200):
        model.score_then_learn(_x(rng), flagged=False)
    learned = model.learned
    model.score_then_learn(_x(rng), flagged=True)
    assert model.learned == learned
    means = dict(model.means)
    scores = [model.score_then_learn(_x(rng, anomalous=True), flagged=False) for _ in range(20)]
    assert min(scores) >= 0.9
    assert model.learned == learned and model.means == means
    assert model.baseline("harvest") < 0.5
