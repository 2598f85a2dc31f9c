"""``abuse-detector evaluate``: compare findings with simulator ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command."""
    parser = sub.add_parser(
        "evaluate",
        help="score findings against simulator ground truth",
        description="Per campaign: found? time to detect; account precision and recall; false "
        "positives per 10,000 benign accounts per day by archetype; the detection targets.",
    )
    parser.add_argument("--truth", type=Path, required=True, help="truth JSON written by simulate")
    parser.add_argument(
        "--findings", type=Path, required=True, help="findings JSONL written by replay"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--plot", type=Path, metavar="OUT.png", help="write a timeline plot (needs matplotlib)"
    )
    parser.add_argument("--days", type=float, help="simulated days (default: from the truth file)")
    parser.add_argument(
        "--events",
        type=Path,
        help="the replayed events: time to detect then counts from each member's first request",
    )
    parser.set_defaults(func=run)


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 60:.1f} min" if value >= 60 else f"{value:.0f} s"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_report(r: dict[str, Any]) -> str:
    """Render the report as plain-text tables."""
    lines = [f"simulated days: {r['days']:.3f}   findings (new/update): {r['findings']:,}", ""]
    lines.append(
        f"{'campaign':<22} {'kind':<15} {'members':>7} {'found':>5} {'ttd':>9} {'recall':>7} {'med ttd':>9} {'grp ttd':>9} {'grp rec':>7} {'grp prec':>8}"
    )
    for c in r["campaigns"]:
        lines.append(
            f"{c['id'][:22]:<22} {c['kind']:<15} {c['members']:>7} {'yes' if c['found'] else 'NO':>5} "
            f"{_s(c['time_to_detect_s']):>9} {c['member_recall']:>7.3f} {_s(c['median_member_ttd_s']):>9} "
            f"{_s(c['campaign_ttd_s']):>9} {c['campaign_member_recall']:>7.3f} {_p(c['campaign_precision']):>8}"
        )
    a = r["accounts"]
    lines += [
        "",
        f"accounts: {a['positives']:,} campaign members, {a['flagged']:,} flagged, "
        f"precision {_p(a['precision'])}, recall {_p(a['recall'])}",
    ]
    for det, row in r["detectors"].items():
        lines.append(
            f"  {det:<24} {row['accounts']:>7,} accounts, precision {_p(row['precision'])}"
        )
    lines += [
        "",
        f"{'benign archetype':<22} {'accounts':>9} {'flagged':>8} {'FP/10k/day':>11}  by detector",
    ]
    for role, row in r["benign"].items():
        by = ", ".join(f"{d} {n}" for d, n in sorted(row["by_detector"].items()))
        lines.append(
            f"{role:<22} {row['accounts']:>9,} {row['flagged']:>8} {row['fp_per_10k_per_day']:>11.2f}  {by}"
        )
    mixed = r["mixed_group_findings"]
    if mixed:
        lines += ["", f"group findings naming members of several campaigns: {len(mixed)}"]
        for m in mixed:
            parts = ", ".join(f"{k} {n}" for k, n in m["members"].items())
            lines.append(f"  {m['uid'][:16]:<16} owner {m['owner']}: {parts}")
    lines += ["", "targets:"]
    for t in r["targets"]:
        value = t["value"]
        shown = "-" if value is None else (f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}")
        lines.append(
            f"  [{'ok' if t['ok'] else 'MISS'}] {t['name']}: {shown} (target {t['target']:g})"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Evaluate; print the table or JSON on stdout; exit 0 (misses are data, not errors)."""
    from app.evaluate import evaluate, member_starts, read_findings, read_json

    truth = read_json(args.truth)
    starts = member_starts(args.events, truth) if args.events is not None else None
    report = evaluate(truth, read_findings(args.findings), days=args.days, starts=starts)
    if args.plot is not None:
        from app.evaluate_plot import plot_timeline

        plot_timeline(truth, read_findings(args.findings), args.plot)
        sys.stderr.write(f"plot written to {args.plot}\n")
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(format_report(report) + "\n")
    return 0
