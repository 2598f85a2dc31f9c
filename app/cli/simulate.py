"""``abuse-detector simulate``: generate a scenario to a JSONL file or a Kafka topic."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from app.errors import InputFileError
from app.sim import Simulation, builtin_scenarios, load_prompts, load_scenario
from app.sim.output import send_kafka, write_jsonl


def register(sub: Any) -> None:
    """Add the ``simulate`` subcommand."""
    p = sub.add_parser(
        "simulate",
        help="generate benign traffic and labelled campaigns",
        description="Generate event-v1 traffic from a scenario, with the ground truth beside it.",
    )
    p.add_argument(
        "--scenario",
        default="standard",
        help=f"built-in name ({', '.join(builtin_scenarios())}) or a TOML file",
    )
    p.add_argument("--out", type=Path, help="write events here (.jsonl or .jsonl.gz)")
    p.add_argument("--truth", type=Path, help="write the ground truth JSON here")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument(
        "--fingerprints-only",
        action="store_true",
        help="send prompt_fp / system_prompt_fp instead of raw text",
    )
    p.add_argument(
        "--prompts", type=Path, help="JSONL corpus with a 'prompt' or 'question' field to harvest"
    )
    p.add_argument(
        "--kafka", metavar="BOOTSTRAP", help="send events to this Kafka bootstrap (host:port)"
    )
    p.add_argument("--topic", default="api-events", help="Kafka topic (default: api-events)")
    p.add_argument(
        "--speed",
        type=float,
        help="pace events at this many times real time (default: as fast as possible)",
    )
    p.add_argument("--start", type=float, help="shift the scenario to start at this epoch second")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate the scenario and write or send it; print a summary on stderr."""
    if args.out is None and args.kafka is None:
        raise InputFileError("give --out FILE and/or --kafka BOOTSTRAP")
    if args.speed is not None and (args.speed <= 0 or args.kafka is None):
        raise InputFileError("--speed needs --kafka and must be > 0")
    scenario = load_scenario(args.scenario)
    corpus = load_prompts(args.prompts) if args.prompts else None
    t0 = time.perf_counter()
    sim = Simulation(scenario, args.seed, corpus, args.start)
    truth = sim.truth()
    planned = time.perf_counter() - t0
    log = _progress(sim.n_events, sim.world.t0, args.quiet)
    raw = not args.fingerprints_only
    if args.truth is not None:
        _write_truth(truth, args.truth)
    sent = written = 0
    if args.out is not None:
        written = write_jsonl(sim.events(raw), args.out, log)
    if args.kafka is not None:
        sent = send_kafka(sim.events(raw), args.kafka, args.topic, args.speed, log)
    elapsed = time.perf_counter() - t0
    _summary(truth, planned, elapsed, written or sent, args)
    return 0


def _write_truth(truth: dict[str, Any], path: Path) -> None:
    try:
        path.write_bytes(
            orjson.dumps(truth, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        )
    except OSError as exc:
        raise InputFileError(f"cannot write {path}: {exc.strerror or exc}") from None


def _progress(total: int, t0: float, quiet: bool) -> Any:
    if quiet:
        return None
    start = time.perf_counter()

    def log(count: int, ts: float) -> None:
        rate = count / max(time.perf_counter() - start, 1e-9)
        sys.stderr.write(
            f"  {count:>10,} / {total:,} events  (sim +{(ts - t0) / 3600:5.2f} h, {rate:,.0f}/s)\n"
        )

    return log


def _summary(
    truth: dict[str, Any], planned: float, elapsed: float, events: int, args: argparse.Namespace
) -> None:
    roles = Counter(a["role"] for a in truth["accounts"].values())
    campaign_ids = {c["id"] for c in truth["campaigns"]}
    benign = sum(n for r, n in roles.items() if r not in campaign_ids)
    lines = [
        f"scenario {truth['scenario']} (seed {truth['seed']}): {events:,} events, {len(truth['accounts']):,} accounts "
        f"({benign:,} benign) in {elapsed:.1f}s (planning {planned:.1f}s, {events / max(elapsed, 1e-9):,.0f} events/s)",
        "  benign: "
        + ", ".join(f"{r} {n:,}" for r, n in sorted(roles.items()) if r not in campaign_ids),
    ]
    for c in truth["campaigns"]:
        lines.append(f"  campaign {c['id']} ({c['kind']}): {len(c['accounts']):,} accounts")
    if args.out:
        lines.append(f"  events -> {args.out}")
    if args.kafka:
        lines.append(f"  events -> kafka {args.kafka} topic {args.topic}")
    if args.truth:
        lines.append(f"  truth  -> {args.truth}")
    sys.stderr.write("\n".join(lines) + "\n")
