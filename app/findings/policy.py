"""The alert policy: severity with hysteresis, one finding then updates, cooldown, close.

Event time is the only clock. Per finding the policy keeps a small record keyed by the
stable uid, so a restarted worker that re-imports the records continues the same findings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.core.types import Detection
from app.findings.learner import VerdictLearner, evidence_features
from app.findings.ocsf import (
    ACTIVITY_CLOSE,
    ACTIVITY_NEW,
    ACTIVITY_UPDATE,
    STATUS_IN_PROGRESS,
    STATUS_NEW,
    STATUS_RESOLVED,
    build_finding,
    finding_uid,
)
from app.findings.suppress import Suppressions

log = logging.getLogger(__name__)

# Score at or above which a severity applies (Low=2 .. Critical=5).
SEVERITY_FLOORS = ((5, 0.92), (4, 0.8), (3, 0.6), (2, 0.0))
# The key of a closing record: a closed finding whose close is not known to be on the
# broker yet (see :func:`closing_record`).
CLOSING = "closing"


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Knobs of the alert policy (seconds are event time)."""

    hysteresis: float = 0.05  # score must fall this far below a floor before severity drops
    cooldown_seconds: float = 900.0  # at most one update per finding per cooldown
    growth_factor: float = 1.5  # a group finding updates when membership grows by this factor
    close_after_seconds: float = 3600.0  # close a finding after this long without detections
    severity_boost: int = 1  # levels added to findings related to a confirmed verdict


@dataclass(slots=True)
class FindingRecord:
    """What the policy remembers about one open finding."""

    uid: str
    detector: str
    subject: str
    severity_id: int
    first_seen: float
    last_seen: float
    last_emit: float
    emitted_accounts: int
    boost: int = 0
    home: int = -1  # the stream partition whose worker owns the finding (-1: not known)
    features: dict[str, float] = field(default_factory=dict)  # last evidence, for verdict learning
    last: dict[str, Any] = field(default_factory=dict)  # last detection summary for the close


@dataclass(frozen=True, slots=True)
class Closing:
    """A closing record read back: the close of a finding that may not be published yet."""

    close: dict[str, Any]
    home: int = -1


def closing_record(close: dict[str, Any], home: int = -1) -> bytes:
    """The record of a finding that was closed but whose close may not be published yet:
    the close itself. A worker that restarts from it publishes the close again (at least
    once, like every finding); once the close is on the broker the record is emptied."""
    return orjson.dumps({CLOSING: close, "home": home})


def read_record(data: bytes) -> FindingRecord | Closing | None:
    """Read one stored finding record: an open finding's, a closing record, or None for an
    emptied one (a closed finding). Raises ValueError for a record it cannot read (another
    version's, or damaged)."""
    if not data:
        return None
    try:
        fields = orjson.loads(data)
        if isinstance(fields, dict) and CLOSING in fields:
            close, home = fields[CLOSING], fields.get("home", -1)
            if not (isinstance(close, dict) and isinstance(close.get("finding_info"), dict)):
                raise TypeError("a closing record without a finding")
            if type(home) is not int:
                raise TypeError("a closing record with a partition that is not a number")
            return Closing(close, home)
        return FindingRecord(**fields)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"unreadable finding record ({type(exc).__name__})") from None


@dataclass(slots=True)
class PolicyStats:
    """Counters for metrics and summaries."""

    published: int = 0
    suppressed: int = 0
    suppressed_by: dict[tuple[str, str], int] = field(default_factory=dict)  # (detector, kind)
    held_back: int = 0  # detections that changed nothing worth publishing (dedup, cooldown)
    closed: int = 0


def severity_for(score: float, current: int | None, hysteresis: float) -> int:
    """Map a score to a severity; stay at ``current`` inside the hysteresis band."""
    target = next(level for level, floor in SEVERITY_FLOORS if score >= floor)
    if current is None or target >= current:
        return target
    floor = dict(SEVERITY_FLOORS)[current]
    return current if score >= floor - hysteresis else target


class AlertPolicy:
    """Turns detections into OCSF findings with a lifecycle, suppressions and feedback."""

    def __init__(
        self, config: PolicyConfig | None = None, suppressions: Suppressions | None = None
    ) -> None:
        self.config = config or PolicyConfig()
        self.suppressions = suppressions or Suppressions()
        self.records: dict[str, FindingRecord] = {}
        self.confirmed_accounts: set[str] = set()
        self.stats = PolicyStats()
        # Uids changed since the last checkpoint, each with its record's home partition.
        self.dirty: dict[str, int] = {}
        self.loader: Callable[[str], bytes | None] | None = None  # restores records after a restart
        # The stream partition that owns a new finding (the worker sets it): its record is
        # stored there, and restored by whichever worker owns that partition.
        self.home: Callable[[Detection], int] | None = None
        self.learner = VerdictLearner()

    def suppressed_kind(self, detection: Detection) -> str | None:
        """The kind of the active suppression that covers this detection, if any."""
        now, s = detection.ts, self.suppressions
        if s.match("finding", finding_uid(detection.detector, detection.subject), now):
            return "finding"
        if s.match("fingerprint", detection.subject, now):
            return "fingerprint"
        if s.match("org", detection.labels.get("org_id"), now):
            return "org"
        if detection.total_accounts <= 1:
            return "account" if s.match("account", detection.subject, now) else None
        members = [a for a in detection.accounts if not s.match("account", a, now)]
        return None if members else "account"

    def apply(self, detection: Detection) -> list[dict[str, Any]]:
        """Return the findings (new or update) this detection causes; usually none."""
        kind = self.suppressed_kind(detection)
        if kind is not None:
            self._count_suppressed(detection, kind)
            return []
        if detection.total_accounts > 1:
            now = detection.ts
            detection.accounts = [
                a for a in detection.accounts if not self.suppressions.match("account", a, now)
            ]
        uid = finding_uid(detection.detector, detection.subject)
        record = self.records.get(uid)
        if record is None and self.loader is not None:
            data = self.loader(uid)
            if data:
                try:  # a closing record is a closed finding: this starts a new lifecycle
                    self.import_record(data)
                except ValueError as exc:
                    log.warning("finding %s: stored record skipped, starting afresh: %s", uid, exc)
                record = self.records.get(uid)
        boost = self.config.severity_boost if self._related_confirmed(detection) else 0
        if record is None:
            if not boost and self.learner.holds_back(evidence_features(detection.evidence)):
                self._count_suppressed(detection, "learned")
                return []
            severity = min(5, severity_for(detection.score, None, self.config.hysteresis) + boost)
            record = FindingRecord(
                uid,
                detection.detector,
                detection.subject,
                severity,
                detection.first_seen or detection.ts,
                detection.ts,
                detection.ts,
                detection.total_accounts,
                boost,
                -1 if self.home is None else self.home(detection),
            )
            self.records[uid] = record
            return self._emit(detection, record, ACTIVITY_NEW, STATUS_NEW)
        record.last_seen = max(record.last_seen, detection.ts)
        record.boost = max(record.boost, boost)
        base = severity_for(
            detection.score, record.severity_id - record.boost, self.config.hysteresis
        )
        # Severity holds its peak while the finding is open: a dip is not news for on-call.
        severity = max(record.severity_id, min(5, base + record.boost))
        grown = detection.total_accounts >= record.emitted_accounts * self.config.growth_factor
        cooled = detection.ts - record.last_emit >= self.config.cooldown_seconds
        escalated = severity > record.severity_id
        # A further part of a campaign names members no finding has listed yet: always news
        # (the coordination detector already spaces parts out as the campaign grows).
        new_part = (
            detection.labels.get("part", "1") != "1"
            and detection.total_accounts > record.emitted_accounts
        )
        if escalated or new_part or (grown and cooled):
            record.severity_id = severity
            return self._emit(detection, record, ACTIVITY_UPDATE, STATUS_IN_PROGRESS)
        self.stats.held_back += 1
        return []

    def close_quiet(self, now_ts: float) -> list[dict[str, Any]]:
        """Close every finding without detections for ``close_after_seconds`` before ``now_ts``."""
        out = []
        for uid, record in list(self.records.items()):
            if now_ts - record.last_seen >= self.config.close_after_seconds:
                if record.last:
                    last = Detection(**{**record.last, "ts": now_ts})
                else:  # restored after a restart: the summary of the last detection is gone
                    last = Detection(
                        record.detector, record.subject, 0.0, now_ts, record.first_seen
                    )
                out.append(
                    build_finding(
                        last,
                        uid,
                        ACTIVITY_CLOSE,
                        record.severity_id,
                        record.first_seen,
                        STATUS_RESOLVED,
                    )
                )
                del self.records[uid]
                self.dirty[uid] = record.home
                self.stats.closed += 1
        self.stats.published += len(out)
        return out

    def _count_suppressed(self, detection: Detection, kind: str) -> None:
        self.stats.suppressed += 1
        by = self.stats.suppressed_by
        by[(detection.detector, kind)] = by.get((detection.detector, kind), 0) + 1

    def record_for(self, target: str) -> FindingRecord | None:
        """The open finding record with this uid, or about this account."""
        record = self.records.get(target)
        if record is None:
            record = next((r for r in self.records.values() if r.subject == target), None)
        return record

    def confirm(self, account_id: str) -> None:
        """An analyst confirmed abuse by ``account_id``: related findings get a severity boost."""
        self.confirmed_accounts.add(account_id)

    def _related_confirmed(self, detection: Detection) -> bool:
        if not self.confirmed_accounts:
            return False
        return detection.subject in self.confirmed_accounts or any(
            a in self.confirmed_accounts for a in detection.accounts
        )

    def _emit(
        self, detection: Detection, record: FindingRecord, activity: int, status: int
    ) -> list[dict[str, Any]]:
        record.last_emit = detection.ts
        record.features = evidence_features(detection.evidence)
        self.dirty[record.uid] = record.home
        record.emitted_accounts = max(record.emitted_accounts, detection.total_accounts)
        record.last = {
            "detector": detection.detector,
            "subject": detection.subject,
            "score": detection.score,
            "ts": detection.ts,
            "first_seen": record.first_seen,
            "evidence": detection.evidence[:6],
            "accounts": detection.accounts[:200],
            "total_accounts": detection.total_accounts,
            "labels": dict(detection.labels),
        }
        self.stats.published += 1
        return [
            build_finding(
                detection, record.uid, activity, record.severity_id, record.first_seen, status
            )
        ]

    def export_record(self, uid: str) -> bytes | None:
        """Serialise one finding record (for a Faust table)."""
        record = self.records.get(uid)
        if record is None:
            return None
        data = {k: getattr(record, k) for k in FindingRecord.__slots__ if k != "last"}
        return orjson.dumps(data)

    def import_record(self, data: bytes) -> FindingRecord | Closing | None:
        """Restore one finding record exported by :meth:`export_record`; return what was read
        (see :func:`read_record`). Only an open finding's record is restored: an emptied
        record and a closing record are closed findings."""
        got = read_record(data)
        if isinstance(got, FindingRecord):
            self.records[got.uid] = got
        return got
