"""``make bench``: run every benchmark, write bench/results.json and print a table."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

BENCHES = ("bench_sim", "bench_core", "bench_coordination", "bench_e2e", "bench_latency")


def main() -> int:
    """Run the selected benchmarks; figures go to bench/results.json."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--only", action="append", default=[], help=f"run only these ({', '.join(BENCHES)})"
    )
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    args = parser.parse_args()
    out = Path(args.out)
    results: dict[str, object] = {}
    if args.only and out.exists():  # a partial run updates the figures of a full one
        results.update(json.loads(out.read_text()))
    results |= {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for name in args.only or BENCHES:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError:
            print(f"{name}: not available", file=sys.stderr)
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        figures = module.run()
        results.update(figures)
        results[f"{name}_seconds"] = round(time.perf_counter() - started, 1)
    # The flat keys docs/performance.md and the issue tracker refer to.
    aliases = {
        "replay_events_per_s": "core_engine_events_per_s",
        "bytes_per_account": "core_bytes_per_account",
    }
    for flat, source in aliases.items():
        if source in results:
            results[flat] = results[source]
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    width = max(len(k) for k in results)
    for key, value in sorted(results.items()):
        shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
