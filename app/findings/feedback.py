"""Analyst verdicts from ``abuse-feedback``: false positives suppress, confirmations escalate."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from app.errors import EventError
from app.findings.policy import AlertPolicy
from app.findings.suppress import Suppression

VERDICTS = ("false_positive", "confirmed")
_UID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(slots=True, frozen=True)
class Verdict:
    """One analyst verdict about an account or a finding uid."""

    target: str
    verdict: str
    note: str = ""
    ts: float = 0.0  # wall-clock time the analyst gave it
    analyst: str = ""
    expires_ts: float | None = None

    @property
    def target_kind(self) -> str:
        """``finding`` for a finding uid (32 hex digits), else ``account``."""
        return "finding" if _UID.match(self.target) else "account"

    def to_bytes(self) -> bytes:
        """JSON for the feedback topic."""
        return orjson.dumps({**asdict(self), "target_kind": self.target_kind})


def parse_verdict(raw: bytes) -> Verdict:
    """Decode one feedback message; raise :class:`EventError` if it is malformed."""
    try:
        obj: dict[str, Any] = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise EventError("invalid_json", "feedback message is not valid JSON") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("target"), str) or not obj["target"]:
        raise EventError("missing_field", "feedback needs a non-empty string target")
    if obj.get("verdict") not in VERDICTS:
        raise EventError("wrong_type", f"verdict must be one of {', '.join(VERDICTS)}")
    return Verdict(
        target=obj["target"],
        verdict=obj["verdict"],
        note=str(obj.get("note", ""))[:500],
        ts=_seconds(obj, "ts") or 0.0,
        analyst=str(obj.get("analyst", ""))[:100],
        expires_ts=_seconds(obj, "expires_ts"),
    )


def _seconds(obj: dict[str, Any], key: str) -> float | None:
    """An optional epoch-seconds field: a number or absent; anything else is malformed
    (a worker that crashed on it would crash again on every restart, reading it again)."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventError("wrong_type", f"{key} must be epoch seconds, got {type(value).__name__}")
    return float(value)


def apply_verdict(verdict: Verdict, policy: AlertPolicy) -> None:
    """Teach the policy one verdict: suppress or escalate, and train the verdict learner."""
    kind = verdict.target_kind
    record = policy.record_for(verdict.target)
    if record is not None and record.features:
        policy.learner.learn(record.features, verdict.verdict == "confirmed")
    if verdict.verdict == "false_positive":
        policy.suppressions.add(
            Suppression(
                kind, verdict.target, f"false positive: {verdict.note}".strip(), verdict.expires_ts
            )
        )
        policy.confirmed_accounts.discard(verdict.target)
    else:
        policy.suppressions.remove(kind, verdict.target)
        if kind == "account":
            policy.confirm(verdict.target)
        elif record is not None:
            policy.confirm(record.subject)
