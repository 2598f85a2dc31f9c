"""How soon a simulated campaign's members show harvest-shaped requests.

A campaign finding needs several members with evidence; this prints, for each campaign of a
kind, how many members had sent a harvest-shaped request (a chain-of-thought, rubric or
rewrite flag, derived from the event as the detector derives it) by each time after the
campaign's start: the floor under any time to detect.

    .venv/bin/python tools/harvest_onset.py EVENTS TRUTH [--kind blended]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.core.features import HARVEST
from app.errors import InputFileError
from app.evaluate import read_json
from app.replay import read_events

MINUTES = (15, 30, 60, 90, 120, 240)


def onset(events: Path, truth: dict, kind: str) -> tuple[dict[str, list[tuple[float, str]]], int]:
    """Per campaign of ``kind``: (event time, account) of its members' harvest requests;
    and how many lines were not events of the contract (replay would dead-letter them)."""
    members = {
        acc: c["id"] for c in truth["campaigns"] if c["kind"] == kind for acc in c["accounts"]
    }
    out: dict[str, list[tuple[float, str]]] = {camp: [] for camp in set(members.values())}
    bad = 0
    for ev in read_events(events):
        if ev is None:
            bad += 1
            continue
        camp = members.get(ev.account_id)
        if camp is not None and ev.flags & HARVEST:
            out[camp].append((ev.ts, ev.account_id))
    return out, bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("truth", type=Path)
    parser.add_argument("--kind", default="blended")
    args = parser.parse_args(argv)
    try:
        truth = read_json(args.truth)
    except InputFileError as exc:
        print(f"error: the truth file: {exc}", file=sys.stderr)
        return 2
    starts = {c["id"]: (float(c["start_ts"]), len(c["accounts"])) for c in truth["campaigns"]}
    try:
        found, bad = onset(args.events, truth, args.kind)
    except InputFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if bad:
        print(f"{bad} lines are not events of the contract and were not counted", file=sys.stderr)
    if not found:
        print(f"no campaign of kind {args.kind!r} in {args.truth}", file=sys.stderr)
        return 1
    for camp, hits in sorted(found.items()):
        start, size = starts[camp]
        print(f"{camp}: {size} members, {len(hits)} harvest-shaped requests")
        for m in MINUTES:
            early = [acc for ts, acc in hits if ts < start + m * 60]
            print(f"  first {m:3d} min: {len(early):4d} requests from {len(set(early)):3d} members")
    return 0


if __name__ == "__main__":
    sys.exit(main())
