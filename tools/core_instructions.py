"""Count the machine instructions the detection core executes over the standard suite.

Wall-clock figures of the core move by a tenth or more between runs on a shared machine;
the number of instructions does not. This runs ``Engine.process`` over the first
``--events`` events of the simulator's standard suite (fingerprints only, as the core
bench) under valgrind's callgrind, counting only inside ``Engine.process`` (decoding and
setup excluded; string hashing seeded), and prints that count. Compare two trees built
the same way (``make compile``): a change that removes work shows as fewer instructions,
in one run each.

    .venv/bin/python tools/core_instructions.py [--events 100000] [--root DIR]

Needs ``valgrind`` (Debian: ``apt-get install valgrind``); about two minutes for 100,000
events compiled. ``--root`` measures another checkout (a worktree of an older commit) with
this one's suite; ``--out`` keeps callgrind's output for ``callgrind_annotate``, which
gives each function's share.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent

# Run under valgrind: decode the saved rows, then run the core bench's loop on them (counted).
CHILD = """
import sys, orjson
sys.path.insert(0, sys.argv[1])
from app.events import event_from_dict
from bench.bench_core import _engine
_engine([event_from_dict(r) for r in orjson.loads(open(sys.argv[2], "rb").read())])
"""
COUNTED = "CPyPy_app___core___engine___Engine___process"  # the compiled entry point


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to measure")
    parser.add_argument(
        "--out", type=Path, help="keep callgrind's output here (per-function costs: "
        "callgrind_annotate --inclusive=yes OUT)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind not found (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    root = args.root.resolve()
    if not any((root / "app" / "core").glob("engine*.so")):
        print(f"{root}: the core is not compiled (make compile); counting stops at the "
              "compiled Engine.process", file=sys.stderr)  # fmt: skip
        return 2
    sys.path.insert(0, str(ROOT))
    from bench.bench_core import _suite

    rows = _suite(args.events, raw_text=False)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rows.json"
        data.write_bytes(orjson.dumps(rows))
        cg_out = args.out.resolve() if args.out else Path(tmp) / "cg.out"
        out = subprocess.run(
            [
                "valgrind", "--tool=callgrind", f"--callgrind-out-file={cg_out}",
                f"--toggle-collect={COUNTED}", sys.executable, "-c", CHILD, str(root), str(data),
            ],  # fmt: skip
            capture_output=True, text=True, cwd=tmp,
            env={**os.environ, "PYTHONPATH": "", "PYTHONHASHSEED": "0"},
        )  # fmt: skip
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or found is None:
        print(out.stderr[-2000:], file=sys.stderr)
        return 1
    count = int(found.group(1))
    print(f"{root}: {count:,} instructions in Engine.process over {len(rows):,} events "
          f"({count / len(rows):,.0f} per event)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
