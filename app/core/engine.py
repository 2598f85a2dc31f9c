"""The detection engine the worker and ``replay`` both run: account stage, then coordination.

``process_account`` is the per-account half (keyed by account, partition-local state);
``observe_signal`` is the coordination half (keyed by shared fingerprint in the worker).
``process`` runs both in one process, which is what ``replay`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.core.account import AccountConfig, AccountDetector
from app.core.features import AccountState
from app.core.types import AccountSignal, Detection
from app.events import Event

try:
    from app.core.coordination import CoordinationConfig, CoordinationDetector
except ImportError:  # pragma: no cover - the coordination stage is optional at import time
    CoordinationDetector = None  # type: ignore[assignment,misc]
    CoordinationConfig = None  # type: ignore[assignment,misc]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Configuration of the whole detection core."""

    account: AccountConfig = field(default_factory=AccountConfig)
    coordination: object | None = None  # a CoordinationConfig; None means its defaults
    coordination_enabled: bool = True
    expire_every_s: float = 300.0  # how often (event time) idle coordination groups expire


class Engine:
    """Run the detection core over events in event-time order."""

    def __init__(self, config: EngineConfig | None = None, seed: int = 42) -> None:
        self.config = config or EngineConfig()
        self.seed = seed
        self.accounts = AccountDetector(self.config.account, seed=seed)
        self.coordination = None
        if self.config.coordination_enabled and CoordinationDetector is not None:
            self.coordination = CoordinationDetector(self.config.coordination, seed=seed)  # type: ignore[arg-type]
        self._next_expire = 0.0

    def process_account(self, event: Event) -> tuple[list[Detection], AccountSignal | None]:
        """Per-account stage: update the account, score it; return detections and a signal."""
        return self.accounts.process(event)

    def observe_signal(
        self, signal: AccountSignal, only: Sequence[str] | None = None
    ) -> list[Detection]:
        """Coordination stage: fold one account signal into its groups (or ``only`` those keys')."""
        if self.coordination is None:
            return []
        ts = signal.ts
        overdue: list[Detection] = []
        if ts >= self._next_expire:
            self._next_expire = ts + self.config.expire_every_s
            self.coordination.expire(ts)
            overdue = self.coordination.due(ts)
        found = self.coordination.observe(signal, only)
        return overdue + found if overdue else found

    def flush(self, now_ts: float) -> list[Detection]:
        """Report every campaign member still pending (at the end of a replay)."""
        return [] if self.coordination is None else self.coordination.flush(now_ts)

    def process(self, event: Event) -> list[Detection]:
        """Run both stages for one event; return every detection it causes."""
        detections, signal = self.accounts.process(event)
        if signal is not None and self.coordination is not None:
            found = self.observe_signal(signal)
            if found:
                detections = detections + found if detections else found
        return detections

    def export_account(self, account_id: str) -> bytes | None:
        """Serialise one account's state (for a Faust table), or None if it is not tracked."""
        state = self.accounts.accounts.get(account_id)
        return None if state is None else state.to_bytes()

    def import_account(self, account_id: str, data: bytes) -> None:
        """Restore one account's state from :meth:`export_account` output."""
        self.accounts.accounts[account_id] = AccountState.from_bytes(data)

    def drop_account(self, account_id: str) -> None:
        """Forget one account (it moved to another worker, or it expired)."""
        self.accounts.accounts.pop(account_id, None)

    def accounts_tracked(self) -> int:
        """Return how many accounts have state in this engine."""
        return len(self.accounts.accounts)

    def expire_accounts(self, now_ts: float, idle_s: float = 7 * 86400.0) -> int:
        """Drop accounts idle for longer than ``idle_s`` of event time; return how many."""
        accounts = self.accounts.accounts
        stale = [key for key, st in accounts.items() if now_ts - st.last_ts > idle_s]
        for key in stale:
            del accounts[key]
        return len(stale)
