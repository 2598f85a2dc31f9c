"""The population model: how unusual an account's feature summary is among all accounts.

A River ``HalfSpaceTrees`` forest, seeded, wrapped in ``ThresholdFilter`` semantics: every
summary is scored before the forest learns it, and the forest never learns a summary that
it found anomalous or that the account detector flagged. It runs at a bounded rate per
account (the account detector decides when), never per event.
"""

from __future__ import annotations

from river import anomaly

# Feature names of the account summary, each scaled into [0, 1] by the account detector.
FEATURES = (
    "rate",
    "harvest",
    "agentic",
    "template",
    "long_completions",
    "single_turn",
    "max_tokens_hit",
    "output_ratio",
    "new_model",
    "datacenter",
    "ua_tls_mismatch",
    "ip_churn",
    "regular_timing",
    "new_account",
)


class PopulationModel:
    """Score-then-learn anomaly model over account summaries, with population means."""

    def __init__(
        self,
        seed: int = 42,
        threshold: float = 0.9,
        window_size: int = 250,
        mean_alpha: float = 0.002,
    ) -> None:
        self.forest = anomaly.HalfSpaceTrees(
            n_trees=10, height=8, window_size=window_size, seed=seed
        )
        self.filter = anomaly.ThresholdFilter(
            self.forest, threshold=threshold, protect_anomaly_detector=True
        )
        self.threshold = threshold
        self.mean_alpha = mean_alpha
        self.means: dict[str, float] = dict.fromkeys(FEATURES, 0.0)
        self.seen = 0
        self.learned = 0

    def score_then_learn(self, x: dict[str, float], flagged: bool) -> float:
        """Score ``x`` (0 normal .. 1 anomalous), then learn it unless it is anomalous or flagged."""
        score = float(self.forest.score_one(x))
        self.seen += 1
        if not flagged and not self.filter.classify(score):
            self.forest.learn_one(x)
            self.learned += 1
            a = max(self.mean_alpha, 1.0 / self.learned)
            means = self.means
            for key, value in x.items():
                means[key] += a * (value - means[key])
        return score

    def baseline(self, name: str) -> float:
        """Return the population mean of feature ``name`` over accounts learned so far."""
        return self.means.get(name, 0.0)

    @property
    def warm(self) -> bool:
        """Whether the forest has completed its first reference window."""
        return not self.forest._first_window
