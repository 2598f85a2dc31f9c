"""Event time that every active input partition has reached.

Partitions are consumed at their own pace: while a worker catches up, one partition can be
hours of event time ahead of another. A finding may close only once the slowest partition
that still carries traffic has passed its quiet period, or a partition running ahead would
close findings whose accounts live on a partition that is behind.
"""

from __future__ import annotations


class Watermark:
    """The lowest newest-event time over partitions that had traffic lately."""

    def __init__(self, idle_s: float = 60.0) -> None:
        self.idle_s = idle_s  # a partition silent this long (wall clock) no longer holds it back
        self._ts: dict[int, float] = {}
        self._seen: dict[int, float] = {}

    def advance(self, partition_ts: dict[int, float], now: float) -> None:
        """Take the newest event time of each partition in a batch; ``now`` is wall clock."""
        for partition, ts in partition_ts.items():
            if ts > self._ts.get(partition, 0.0):
                self._ts[partition] = ts
            self._seen[partition] = now

    def value(self, now: float) -> float:
        """Event time all active partitions have reached (0.0 before any event)."""
        active = [ts for p, ts in self._ts.items() if now - self._seen[p] <= self.idle_s]
        if active:
            return min(active)
        return max(self._ts.values(), default=0.0)
