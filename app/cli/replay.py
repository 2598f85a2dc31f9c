"""``abuse-detector replay``: backtest the detection core and alert policy over an event file."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from app.errors import InputFileError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``replay`` command."""
    parser = sub.add_parser(
        "replay",
        help="run detection over an event v1 JSONL(.gz) file, in event time",
        description="Run the same detection core and alert policy as the worker over a file of "
        "events (JSONL, optionally gzipped); write one OCSF finding per line.",
    )
    parser.add_argument("events", type=Path, help="event v1 JSONL file (.jsonl or .jsonl.gz)")
    parser.add_argument("--out", type=Path, required=True, help="findings JSONL to write")
    parser.add_argument(
        "--errors", type=Path, help="bad-line report (default FINDINGS.errors.jsonl)"
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the models (default 42)")
    parser.add_argument("--no-coordination", action="store_true", help="per-account detection only")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


class _Progress:
    """A one-line progress bar on stderr, redrawn at most a few times per second."""

    def __init__(self, total_bytes: int) -> None:
        self.total = max(1, total_bytes)
        self.started = time.perf_counter()
        self.last = 0.0

    def __call__(self, lines: int, done_bytes: int, findings: int) -> None:
        now = time.perf_counter()
        if now - self.last < 0.25:
            return
        self.last = now
        share = min(1.0, done_bytes / self.total)
        bar = "#" * int(share * 30)
        rate = lines / max(now - self.started, 1e-9)
        sys.stderr.write(
            f"\r[{bar:<30}] {share:5.1%} {lines:>10,} lines {rate:>9,.0f}/s {findings:>7,} findings"
        )
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\r" + " " * 90 + "\r")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    """Replay the file; print a summary on stderr; exit 0 (bad lines are reported, not fatal)."""
    from app.core.engine import Engine, EngineConfig
    from app.replay import errors_path_for, replay

    if not args.events.is_file():
        raise InputFileError(f"events file {args.events} does not exist")
    engine = Engine(EngineConfig(coordination_enabled=not args.no_coordination), seed=args.seed)
    progress = None if args.quiet else _Progress(args.events.stat().st_size)
    summary = replay(args.events, args.out, engine=engine, errors=args.errors, progress=progress)
    if progress is not None:
        progress.done()
    s = summary.to_dict()
    err = sys.stderr
    err.write(
        f"replayed {s['events']:,} events ({s['bad_lines']:,} bad lines) in {s['wall_s']:.1f} s "
        f"({s['events_per_s']:,} events/s), {s['event_time_span_s'] / 3600:.1f} h of event time\n"
    )
    err.write(
        f"findings: {s['findings']:,} written to {args.out} "
        f"(new {s['findings_by_activity'].get('1', 0)}, update {s['findings_by_activity'].get('2', 0)}, "
        f"close {s['findings_by_activity'].get('3', 0)}); {s['accounts_flagged']:,} accounts flagged\n"
    )
    for name, count in sorted(s["findings_by_detector"].items()):
        err.write(f"  {name}: {count:,}\n")
    if summary.bad_lines:
        reasons = ", ".join(f"{k} {v}" for k, v in summary.bad_reasons.most_common())
        err.write(f"bad lines: {reasons}; see {args.errors or errors_path_for(args.out)}\n")
    return 0
