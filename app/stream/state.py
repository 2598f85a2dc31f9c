"""Partition-owned detector state, checkpointed into Faust changelog tables.

Per-account state lives in the engine's memory (fast path) and is written to a changelog
table at most once per checkpoint interval per account; a restarted worker restores an
account from the table the first time it sees it again.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping

from app.core.engine import Engine
from app.core.types import AccountSignal, Detection
from app.events import Event


class CheckpointedEngine:
    """The engine's account stage with lazy restore and dirty tracking."""

    def __init__(self, engine: Engine, table: MutableMapping[bytes, bytes] | None = None) -> None:
        self.engine = engine
        self.table = table
        self.dirty: set[str] = set()
        self._known = engine.accounts.accounts  # the engine's own dict of account states

    def process_account(self, event: Event) -> tuple[list[Detection], AccountSignal | None]:
        """Restore the account if needed, then run the account stage."""
        account = event.account_id
        if account not in self._known and self.table is not None:
            data = self.table.get(account.encode())
            if data:
                self.engine.import_account(account, data)
        self.dirty.add(account)
        return self.engine.process_account(event)

    def checkpoint(self, write: Callable[[bytes, bytes], None] | None = None) -> int:
        """Write every account touched since the last checkpoint; return how many.

        Keys are the account id's bytes, so the default partitioner puts each account's
        state in the same partition number as its events.
        """
        if self.table is None and write is None:
            self.dirty.clear()
            return 0
        put = write or self.table.__setitem__  # type: ignore[union-attr,index]
        n = 0
        for account in self.dirty:
            data = self.engine.export_account(account)
            if data is not None:
                put(account.encode(), data)
                n += 1
        self.dirty.clear()
        return n
