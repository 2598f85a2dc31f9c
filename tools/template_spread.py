"""How wide a prompt template is at SimHash distances: the noise a group's centre meets.

Prints, over the first ``--prompts`` first-turn prompt fingerprints of a suite (any
account), the share of random pairs within 6, 10, 14, 18 and 22 bits of each other: how
often a stranger's prompt lands near a centre at ``template_radius``. Then, for each
campaign of the truth file, its first-turn prompts clustered greedily at ``--radius`` bits
and, for its six largest clusters, their size and the median and 90th-percentile distance
of a prompt to the bitwise majority of its cluster: how far a campaign's own instances lie.

    .venv/bin/python tools/template_spread.py EVENTS TRUTH [--prompts 4000] [--radius 18]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterable
from pathlib import Path

from app.errors import InputFileError
from app.evaluate import read_json
from app.replay import read_events

BITS = (6, 10, 14, 18, 22)
PAIRS = 50_000
PER_CAMPAIGN = 3000  # first-turn prompts read per campaign at most


def fingerprints(events: Path, truth: dict, limit: int) -> tuple[list[int], dict[str, list[int]]]:
    """The first ``limit`` first-turn prompt fingerprints of any account, and up to
    ``PER_CAMPAIGN`` of each campaign's members'."""
    owner = {acc: c["id"] for c in truth["campaigns"] for acc in c["accounts"]}
    every: list[int] = []
    camps: dict[str, list[int]] = {c["id"]: [] for c in truth["campaigns"]}
    for ev in read_events(events):
        if ev is None or not ev.prompt_fp or (ev.turn or 1) != 1:
            continue
        if len(every) < limit:
            every.append(ev.prompt_fp)
        camp = owner.get(ev.account_id)
        if camp is not None and len(camps[camp]) < PER_CAMPAIGN:
            camps[camp].append(ev.prompt_fp)
    return every, camps


def pair_shares(fps: list[int], seed: int = 1) -> dict[int, float]:
    """The share of ``PAIRS`` random pairs within each of ``BITS`` bits."""
    rng = random.Random(seed)
    dists = [(a ^ b).bit_count() for a, b in (rng.sample(fps, 2) for _ in range(PAIRS))]
    return {b: sum(d <= b for d in dists) / len(dists) for b in BITS}


def majority(fps: Iterable[int]) -> int:
    """The bitwise majority of SimHashes: a template's stable bits."""
    fps = list(fps)
    return sum(1 << b for b in range(64) if 2 * sum(x >> b & 1 for x in fps) > len(fps))


def clusters(fps: list[int], radius: int, top: int = 6) -> list[tuple[int, int, int]]:
    """Greedy clusters (a seed is a prompt farther than ``radius`` from every earlier
    seed; a cluster is every prompt within ``radius`` of it): for the ``top`` first seeds,
    (size, median, 90th-percentile distance to the cluster's majority)."""
    seeds: list[int] = []
    for x in fps:
        if all((x ^ s).bit_count() > radius for s in seeds):
            seeds.append(x)
    out = []
    for s in seeds[:top]:
        members = [x for x in fps if (x ^ s).bit_count() <= radius]
        centre = majority(members)
        ds = sorted((x ^ centre).bit_count() for x in members)
        out.append((len(members), ds[len(ds) // 2], ds[int(len(ds) * 0.9)]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("truth", type=Path)
    parser.add_argument("--prompts", type=int, default=4000)
    parser.add_argument("--radius", type=int, default=18)
    args = parser.parse_args(argv)
    try:
        truth = read_json(args.truth)
        every, camps = fingerprints(args.events, truth, args.prompts)
    except InputFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if len(every) < 2:
        print("fewer than two first-turn prompt fingerprints in the events", file=sys.stderr)
        return 1
    shares = pair_shares(every)
    print(f"{len(every)} first-turn prompts, {PAIRS} random pairs within:")
    print("  " + "  ".join(f"{b} bits {shares[b]:.4f}" for b in BITS))
    for camp, fps in sorted(camps.items()):
        if fps:
            rows = ", ".join(f"{n} at {med}/{p90}" for n, med, p90 in clusters(fps, args.radius))
            print(f"{camp}: {len(fps)} prompts; clusters (size at median/p90 bits): {rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
