"""An online River classifier that learns from analyst verdicts which evidence is abuse.

Each finding's evidence (signal name -> value) is the input; a ``confirmed`` verdict is a
positive label, ``false_positive`` a negative one. Once it has seen enough verdicts of
both kinds, the policy holds back new findings the classifier is confident are benign.
"""

from __future__ import annotations

from river import compose, linear_model, optim, preprocessing

from app.core.types import Evidence


def evidence_features(evidence: list[Evidence] | dict[str, float]) -> dict[str, float]:
    """The classifier's input: one feature per evidence signal."""
    if isinstance(evidence, dict):
        return {k: float(v) for k, v in evidence.items()}
    return {e.name: float(e.value) for e in evidence}


class VerdictLearner:
    """Logistic regression over evidence, learned one verdict at a time."""

    def __init__(self, min_verdicts: int = 20, holdback_below: float = 0.1, seed: int = 42) -> None:
        self.min_verdicts = min_verdicts
        self.holdback_below = holdback_below
        self.model = compose.Pipeline(
            preprocessing.StandardScaler(),
            linear_model.LogisticRegression(optimizer=optim.SGD(0.3), l2=1e-4),
        )
        self.seed = seed
        self.positives = 0
        self.negatives = 0

    @property
    def ready(self) -> bool:
        """True once it has seen enough verdicts of both kinds to be trusted."""
        return min(self.positives, self.negatives) * 2 >= self.min_verdicts

    def learn(self, features: dict[str, float], abuse: bool) -> None:
        """Learn one verdict."""
        if not features:
            return
        self.model.learn_one(features, abuse)
        if abuse:
            self.positives += 1
        else:
            self.negatives += 1

    def probability(self, features: dict[str, float]) -> float | None:
        """P(abuse) for this evidence, or None while not ready."""
        if not self.ready or not features:
            return None
        return float(self.model.predict_proba_one(features).get(True, 0.0))

    def holds_back(self, features: dict[str, float]) -> bool:
        """True if the learned verdicts say this evidence is benign with confidence."""
        p = self.probability(features)
        return p is not None and p < self.holdback_below
