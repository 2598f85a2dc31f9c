"""Simulate, replay and evaluate scenarios over several seeds; print the targets side by side.

One seed draws one point in a scenario's parameter ranges, and detection measured on one
point can miss another. For each scenario and seed this runs ``abuse-detector simulate``,
``replay`` and ``evaluate --json`` (``--jobs`` suites at a time), keeps the files in the
work directory (a suite already simulated there is not simulated again), and prints every
detection target per suite, marked ``!`` where it is missed, with the benign accounts
flagged and the group findings that name members of several campaigns.

    .venv/bin/python tools/seed_sweep.py --scenario standard --scenario heldout \\
        --seed default --seed 7 --seed 11 [--workdir DIR] [--jobs 2] [--fingerprints-only]

``--fingerprints-only`` simulates the same traffic as a gateway that sends ``prompt_fp`` /
``system_prompt_fp`` instead of raw text would publish it (no content flags); its files
and columns carry an ``fp`` suffix, so both forms can share a work directory.

``default`` is the scenario's own seed. Replay runs the core this checkout has: build it
with ``make compile`` first, or the sweep takes about three times as long.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str]) -> str:
    """Run one ``abuse-detector`` command from the checkout; return its standard output."""
    cmd = [sys.executable, "-m", "app.cli.main", *args]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(args[:1])} failed ({done.returncode}): {' | '.join(tail)}")
    return done.stdout


def suite(
    scenario: str, seed: str, workdir: Path, fingerprints_only: bool = False
) -> dict[str, Any]:
    """Simulate (unless already done), replay and evaluate one suite; return the report."""
    name = f"{scenario}-{seed}" + ("-fp" if fingerprints_only else "")
    events, truth = workdir / f"{name}.jsonl.gz", workdir / f"{name}-truth.json"
    findings, report = workdir / f"{name}-findings.jsonl", workdir / f"{name}-report.json"
    started = time.monotonic()
    if not (events.exists() and truth.exists()):
        seeded = [] if seed == "default" else ["--seed", seed]
        seeded += ["--fingerprints-only"] if fingerprints_only else []
        _run(["simulate", "--scenario", scenario, *seeded, "--out", str(events),
              "--truth", str(truth), "--quiet"])  # fmt: skip
    _run(["replay", str(events), "--out", str(findings), "--quiet"])
    out = _run(["evaluate", "--json", "--truth", str(truth), "--findings", str(findings),
                "--events", str(events)])  # fmt: skip
    report.write_text(out)
    print(f"{name}: done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return json.loads(out)


def _cell(value: float | None, ok: bool, seconds: bool) -> str:
    if value is None:
        text = "-"
    elif seconds:
        text = f"{value:,.0f}"
    else:
        text = f"{value:.3f}"
    return text if ok else text + " !"


MIXED = "group findings naming several campaigns"


def table(reports: dict[str, dict[str, Any]]) -> str:
    """The targets of every report, one column per suite."""
    names: list[str] = []
    cells: dict[tuple[str, str], str] = {}
    for suite_name, report in reports.items():
        for t in report["targets"]:
            if t["name"] not in names:
                names.append(t["name"])
            cells[(t["name"], suite_name)] = _cell(t["value"], t["ok"], "(s)" in t["name"])
        flagged = sum(b["flagged"] for b in report["benign"].values())
        cells[("benign accounts flagged", suite_name)] = str(flagged)
        mixed = len(report.get("mixed_group_findings", ()))
        cells[(MIXED, suite_name)] = str(mixed)
    names += ["benign accounts flagged", MIXED]
    cols = list(reports)
    width = max(len(n) for n in names)
    w = max(16, *(len(c) for c in cols))
    lines = [" " * width + "  " + "  ".join(f"{c:>{w}}" for c in cols)]
    for n in names:
        row = "  ".join(f"{cells.get((n, c), ''):>{w}}" for c in cols)
        lines.append(f"{n:<{width}}  {row}")
    misses = sum(cell.endswith("!") for cell in cells.values())
    lines.append(f"{misses} target(s) missed across {len(cols)} suite(s) ('!')")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the sweep; 1 if any suite failed to run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", help="built-in name or TOML (repeat)")
    parser.add_argument("--seed", action="append", help="a seed, or 'default' (repeat)")
    parser.add_argument("--workdir", type=Path, default=Path("seed-sweep"))
    parser.add_argument("--jobs", type=int, default=2, help="suites run at once")
    parser.add_argument(
        "--fingerprints-only",
        action="store_true",
        help="simulate prompt_fp / system_prompt_fp instead of raw text",
    )
    args = parser.parse_args(argv)
    scenarios = args.scenario or ["standard", "heldout"]
    seeds = args.seed or ["default"]
    workdir = args.workdir.resolve()  # the CLI runs from the checkout's root
    workdir.mkdir(parents=True, exist_ok=True)
    runs = [(sc, seed) for seed in seeds for sc in scenarios]
    reports: dict[str, dict[str, Any]] = {}
    failed = 0
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {run: pool.submit(suite, *run, workdir, args.fingerprints_only) for run in runs}
        suffix = " fp" if args.fingerprints_only else ""
        for (scenario, seed), future in futures.items():
            try:
                reports[f"{scenario} {seed}{suffix}"] = future.result()
            except RuntimeError as exc:
                failed += 1
                print(f"{scenario} seed {seed}{suffix}: {exc}", file=sys.stderr)
    if reports:
        print(table(reports))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
