"""Why a simulated campaign's groups fire or not: their verdicts over time.

Replays a suite through the detection core (both stages, as ``abuse-detector replay``) and,
every ``--every`` seconds of event time from the campaign's start, prints each coordination
group whose sample holds at least ``--min-members`` of the campaign's accounts: its key, how
many accounts it holds (estimated) and samples, how many sampled are the campaign's and what the others are (other
campaigns, benign archetypes), whether its verdict is a campaign or what blocks it, and
every family with a strength above 0 (and the share of light askers, where they tied it).
A group's strata (``KEY (suspects)``, ``KEY (new askers)``) are printed the same way, each
with its full verdict, before the checks that it is beyond chance, off the new model and
beyond its selection.

    .venv/bin/python tools/group_trace.py EVENTS TRUTH CAMPAIGN [--minutes 60] [--every 300]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from app.core.engine import Engine
from app.errors import InputFileError
from app.evaluate import read_json
from app.replay import read_events


def trace(
    events: Path, truth: dict, campaign: str, minutes: float, every: float, min_members: int
) -> tuple[list[str], int]:
    """The printed lines of the trace, and how many lines were not events of the contract."""
    start = next(float(c["start_ts"]) for c in truth["campaigns"] if c["id"] == campaign)
    owner = {acc: c["id"] for c in truth["campaigns"] for acc in c["accounts"]}
    role = {acc: a.get("role", "?") for acc, a in truth.get("accounts", {}).items()}
    engine = Engine()
    out: list[str] = []
    mark, end, bad = start + every, start + minutes * 60, 0

    def snapshot(ts: float) -> None:
        out.append(f"--- {(ts - start) / 60:.0f} min")
        for key, ids, accounts, v in engine.coordination.explain():
            mine = sum(1 for i in ids if owner.get(i) == campaign)
            if mine < min_members:
                continue
            others = Counter(
                owner.get(i) or role.get(i, "?") for i in ids if owner.get(i) != campaign
            )
            state = "campaign" if v.campaign else f"blocked {v.blocked or 'crowd'}"
            strengths = " ".join(f"{f}={x:.2f}" for f, x in v.strengths.items() if x > 0)
            if v.sparse >= 0.0:  # the tie that anchored it (a campaign unless blocked)
                strengths += f" tie light_askers_share={v.sparse:.2f}"
            out.append(
                f"  {key} ~{accounts:.0f} accounts, sampled {len(ids)}, {mine} of {campaign}, "
                f"others {dict(others.most_common(3))}: {state}; {strengths}"
            )

    for ev in read_events(events):
        if ev is None:
            bad += 1
            continue
        while ev.ts >= mark and mark <= end:
            snapshot(mark)
            mark += every
        if ev.ts > end:
            break
        engine.process(ev)
    return out, bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("truth", type=Path)
    parser.add_argument("campaign", help="a campaign id of the truth file, e.g. blended-a")
    parser.add_argument("--minutes", type=float, default=60.0, help="how long after its start")
    parser.add_argument("--every", type=float, default=300.0, help="seconds between snapshots")
    parser.add_argument("--min-members", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        truth = read_json(args.truth)
    except InputFileError as exc:
        print(f"error: the truth file: {exc}", file=sys.stderr)
        return 2
    if args.campaign not in {c["id"] for c in truth["campaigns"]}:
        print(f"no campaign {args.campaign!r} in {args.truth}", file=sys.stderr)
        return 1
    if args.every <= 0 or args.minutes <= 0:
        print("error: --every and --minutes must be positive", file=sys.stderr)
        return 2
    try:
        lines, bad = trace(
            args.events, truth, args.campaign, args.minutes, args.every, args.min_members
        )
    except InputFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if bad:
        print(f"{bad} lines are not events of the contract and were skipped", file=sys.stderr)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
