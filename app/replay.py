"""Backtest: run the detection core and the alert policy over an event file, in event time.

Each JSONL line is decoded with the same contract as the worker; bad lines are counted and
listed (line number and reason, never the line itself) in an error file, never fatal.
"""

from __future__ import annotations

import gzip
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from app.core.engine import Engine
from app.errors import EventError, InputFileError
from app.events import Event, parse_event

CLOSE_EVERY_S = 60.0  # event time between two sweeps for quiet findings
ProgressFn = Callable[[int, int, int], None]  # (lines, bytes read, findings)


@dataclass(slots=True)
class ReplaySummary:
    """What a replay did, for the closing summary and for tests."""

    lines: int = 0
    events: int = 0
    bad_lines: int = 0
    bad_reasons: Counter[str] = field(default_factory=Counter)
    detections: int = 0
    findings: int = 0
    findings_by_activity: Counter[str] = field(default_factory=Counter)
    findings_by_detector: Counter[str] = field(default_factory=Counter)
    accounts_flagged: set[str] = field(default_factory=set)
    first_ts: float = 0.0
    last_ts: float = 0.0
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict."""
        return {
            "lines": self.lines,
            "events": self.events,
            "bad_lines": self.bad_lines,
            "bad_reasons": dict(self.bad_reasons),
            "detections": self.detections,
            "findings": self.findings,
            "findings_by_activity": dict(self.findings_by_activity),
            "findings_by_detector": dict(self.findings_by_detector),
            "accounts_flagged": len(self.accounts_flagged),
            "event_time_span_s": round(self.last_ts - self.first_ts, 3),
            "wall_s": round(self.wall_s, 3),
            "events_per_s": round(self.events / self.wall_s) if self.wall_s > 0 else 0,
        }


class _InterimPolicy:
    """Stand-in for app.findings.policy.AlertPolicy: one finding per subject, then updates."""

    def __init__(self, quiet_s: float = 6 * 3600.0) -> None:
        self.open: dict[tuple[str, str], dict[str, Any]] = {}
        self.quiet_s = quiet_s

    def apply(self, det: Any) -> list[dict[str, Any]]:
        """Return a new or updated OCSF-shaped finding for one detection."""
        key = (det.detector, det.subject)
        prev = self.open.get(key)
        if (
            prev is not None
            and det.score < prev["confidence_score"] / 100 + 0.1
            and det.ts - prev["time"] / 1000 < 600
        ):
            return []
        finding = {
            "class_uid": 2004,
            "activity_id": 1 if prev is None else 2,
            "time": int(det.ts * 1000),
            "confidence_score": int(det.score * 100),
            "message": f"{det.detector} on {det.subject}: score {det.score:.2f}",
            "finding_info": {
                "uid": f"{det.detector}:{det.subject}",
                "analytic": {"name": det.detector},
                "first_seen_time": int(det.first_seen * 1000),
                "last_seen_time": int(det.ts * 1000),
            },
            "resources": [{"type": "account", "uid": a} for a in det.accounts],
            "evidences": [e.to_dict() for e in det.evidence],
        }
        self.open[key] = finding
        return [finding]

    def close_quiet(self, now_ts: float) -> list[dict[str, Any]]:
        """Close findings without a detection for the quiet period."""
        done = [k for k, f in self.open.items() if now_ts - f["time"] / 1000 >= self.quiet_s]
        out = []
        for key in done:
            finding = dict(self.open.pop(key), activity_id=3, time=int(now_ts * 1000))
            out.append(finding)
        return out


def load_policy() -> Any:
    """Return the project's alert policy (the interim one until app.findings lands)."""
    try:
        from app.findings.policy import AlertPolicy
    except ImportError:
        return _InterimPolicy()
    return AlertPolicy()


def errors_path_for(out: Path) -> Path:
    """Return where the bad-line report of a findings file goes (FINDINGS.errors.jsonl)."""
    name = out.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return out.with_name(name + ".errors.jsonl")


def open_input(path: Path) -> IO[bytes]:
    """Open an events file for reading bytes, gzip or plain; raise InputFileError if unreadable."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.suffix == ".gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def read_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of an events file opened by :func:`open_input`; raise InputFileError if the
    file turns out truncated or corrupt."""
    try:
        yield from stream
    except (OSError, EOFError) as exc:  # truncated or corrupt gzip
        raise InputFileError(f"events file is corrupt: {exc}") from None


def read_events(path: Path) -> Iterator[Event | None]:
    """The events of a file, in order, None for each line that is not an event of the
    contract (blank lines skipped); raise InputFileError as :func:`read_lines`. For tools
    that count bad lines; ``replay`` keeps each one's line and reason."""
    with open_input(path) as stream:
        for line in read_lines(stream):
            if not line.strip():
                continue
            try:
                yield parse_event(line.rstrip(b"\r\n"))
            except EventError:
                yield None


def replay(
    events: Path,
    out: Path,
    *,
    engine: Engine | None = None,
    policy: Any | None = None,
    errors: Path | None = None,
    progress: ProgressFn | None = None,
    max_event_bytes: int = 65536,
) -> ReplaySummary:
    """Replay ``events`` through the engine and the policy; write one finding per line to ``out``."""
    engine = engine or Engine()
    policy = policy or load_policy()
    errors = errors or errors_path_for(out)
    summary = ReplaySummary()
    started = time.perf_counter()
    stream = open_input(events)
    size_src = getattr(stream, "fileobj", stream)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with stream, out.open("wb") as sink, errors.open("wb") as bad:
            next_close = 0.0
            for lineno, line in enumerate(read_lines(stream), start=1):
                summary.lines = lineno
                if not line.strip():
                    continue
                try:
                    event = parse_event(line.rstrip(b"\r\n"), max_event_bytes)
                except EventError as exc:
                    summary.bad_lines += 1
                    summary.bad_reasons[exc.reason] += 1
                    bad.write(
                        orjson.dumps({"line": lineno, "reason": exc.reason, "detail": exc.detail})
                        + b"\n"
                    )
                    continue
                summary.events += 1
                ts = event.ts
                if summary.events == 1:
                    summary.first_ts = ts
                    next_close = ts + CLOSE_EVERY_S
                if ts > summary.last_ts:
                    summary.last_ts = ts
                found = []
                for detection in engine.process(event):
                    summary.detections += 1
                    found.extend(policy.apply(detection))
                if ts >= next_close:
                    next_close = ts + CLOSE_EVERY_S
                    found.extend(policy.close_quiet(ts))
                if found:
                    _write(sink, found, summary)
                if progress is not None and lineno & 0x3FFF == 0:
                    progress(lineno, size_src.tell(), summary.findings)
            tail = []
            for detection in engine.flush(summary.last_ts):
                summary.detections += 1
                tail.extend(policy.apply(detection))
            _write(sink, tail + policy.close_quiet(summary.last_ts), summary)
    except OSError as exc:
        raise InputFileError(f"cannot write findings: {exc.strerror or exc}") from None
    summary.wall_s = time.perf_counter() - started
    return summary


def _write(sink: IO[bytes], findings: list[dict[str, Any]], summary: ReplaySummary) -> None:
    for finding in findings:
        sink.write(orjson.dumps(finding) + b"\n")
        summary.findings += 1
        summary.findings_by_activity[str(finding.get("activity_id", "?"))] += 1
        info = finding.get("finding_info") or {}
        analytic = info.get("analytic") or {}
        summary.findings_by_detector[str(analytic.get("name", "?"))] += 1
        for res in finding.get("resources") or ():
            if res.get("type") == "account":
                summary.accounts_flagged.add(str(res.get("uid")))
