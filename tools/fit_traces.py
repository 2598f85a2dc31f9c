"""Fit the simulator's token-size and arrival constants from the public traces.

Reads ../shared/data/traces when present and prints the constants that app/sim/fitted.py
holds. The simulator itself never reads the traces; rerun this and paste the output there
when the traces change.

    .venv/bin/python tools/fit_traces.py [--traces ../shared/data/traces]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

# Probabilities at which the log-token quantiles are tabulated (inverse-CDF sampling).
PROBS = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


def _azure(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (seconds, prompt tokens, completion tokens) of an Azure trace CSV."""
    ts, ctx, gen = [], [], []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            stamp = row["TIMESTAMP"][:26]
            ts.append(datetime.fromisoformat(stamp).timestamp())
            ctx.append(int(row["ContextTokens"]))
            gen.append(int(row["GeneratedTokens"]))
    return np.array(ts), np.array(ctx), np.array(gen)


def _mooncake(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[int]]]:
    """Return (seconds, input tokens, output tokens, prefix-block hashes) of the Mooncake trace."""
    ts, inp, out, blocks = [], [], [], []
    with path.open() as fh:
        for line in fh:
            row = json.loads(line)
            ts.append(row["timestamp"] / 1000.0)
            inp.append(row["input_length"])
            out.append(row["output_length"])
            blocks.append(row["hash_ids"])
    return np.array(ts), np.array(inp), np.array(out), blocks


def log_quantiles(values: np.ndarray) -> tuple[float, ...]:
    """Quantiles of log(1 + tokens) at PROBS, rounded for pasting into code."""
    logs = np.log1p(np.maximum(values, 0))
    return tuple(round(float(q), 3) for q in np.quantile(logs, PROBS))


def arrival_stats(ts: np.ndarray) -> dict[str, float]:
    """Aggregate arrival shape: rate, inter-arrival CV, Fano factor of per-second counts."""
    ts = np.sort(ts)
    gaps = np.diff(ts)
    gaps = gaps[gaps >= 0]
    counts = np.bincount((ts - ts[0]).astype(int))
    return {
        "rate_per_s": round(len(ts) / max(ts[-1] - ts[0], 1e-9), 3),
        "gap_cv": round(float(gaps.std() / gaps.mean()), 3),
        "fano_1s": round(float(counts.var() / counts.mean()), 3),
    }


def conversation_depth(blocks: list[list[int]]) -> dict[str, float]:
    """Estimate turns per conversation from prefix-block reuse (a turn extends a prior prefix)."""
    seen_first: dict[tuple[int, ...], int] = {}
    depth: list[int] = []
    for hashes in blocks:
        key = tuple(hashes[1:3])  # block 0 is a prompt shared by everyone; 1-2 identify the chat
        if key in seen_first:
            depth[seen_first[key]] += 1
        else:
            seen_first[key] = len(depth)
            depth.append(1)
    arr = np.array(depth)
    return {
        "conversations": int(len(arr)),
        "mean_turns": round(float(arr.mean()), 3),
        "single_turn_share": round(float((arr == 1).mean()), 3),
        "p90_turns": float(np.quantile(arr, 0.9)),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the fitted constants."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--traces", type=Path, default=Path(__file__).resolve().parents[1] / "../shared/data/traces"
    )
    args = parser.parse_args(argv)
    root = args.traces.resolve()
    if not root.is_dir():
        print(f"no traces at {root}", file=sys.stderr)
        return 1
    out: dict[str, object] = {"probs": PROBS}
    for name in ("code", "conv"):
        ts, ctx, gen = _azure(
            root / "azure-llm-inference-2023" / f"AzureLLMInferenceTrace_{name}.csv"
        )
        out[f"azure_{name}"] = {
            "prompt": log_quantiles(ctx),
            "completion": log_quantiles(gen),
            "arrivals": arrival_stats(ts),
            "corr_log": round(float(np.corrcoef(np.log1p(ctx), np.log1p(gen))[0, 1]), 3),
        }
    ts, inp, outp, blocks = _mooncake(root / "mooncake-conversation" / "conversation_trace.jsonl")
    out["mooncake_conv"] = {
        "prompt": log_quantiles(inp),
        "completion": log_quantiles(outp),
        "arrivals": arrival_stats(ts),
        "corr_log": round(float(np.corrcoef(np.log1p(inp), np.log1p(outp))[0, 1]), 3),
        "depth": conversation_depth(blocks),
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
