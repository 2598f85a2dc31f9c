"""Coordination (hydra-cluster) detection across accounts that share fingerprints.

Accounts are linked through shared fingerprint keys (see :func:`signal_keys`); one bounded
group state per key is scored on what makes a campaign and not a crowd.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.coordination_keys import signal_from_event, signal_keys
from app.core.types import AccountSignal, Detection

__all__ = [
    "CoordinationConfig",
    "CoordinationDetector",
    "signal_from_event",
    "signal_keys",
]


@dataclass(frozen=True, slots=True)
class CoordinationConfig:
    """Tunables of the coordination detector."""

    idle_ttl_s: float = 6 * 3600.0
    max_groups: int = 200_000
    max_members: int = 200


class CoordinationDetector:
    """Score groups of accounts that share a fingerprint key; emit campaign detections."""

    def __init__(self, config: CoordinationConfig | None = None, seed: int = 42) -> None:
        self.config = config or CoordinationConfig()
        self.seed = seed
        self._groups: dict[str, object] = {}

    def observe(self, signal: AccountSignal) -> list[Detection]:
        """Fold one account signal into the groups of its keys; return campaign detections."""
        return []

    def expire(self, now_ts: float) -> None:
        """Drop groups idle for longer than the configured TTL."""

    def groups_tracked(self) -> int:
        """Return how many groups are held in memory."""
        return len(self._groups)

    def export_group(self, key: str) -> bytes | None:
        """Serialise one group's state (for a changelog table), or None if unknown."""
        return None

    def import_group(self, key: str, data: bytes) -> None:
        """Restore one group's state from :meth:`export_group` output."""
