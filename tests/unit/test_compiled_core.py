"""The compiled core (``make compile``: mypyc) finds exactly what the pure Python core finds.

Builds a copy of ``app/`` with tools/build_core.py, then simulates the smoke scenario
(raw prompt text, so the event decoder and text fingerprints run compiled too) and replays
it in that copy and in a pure copy; the findings must be byte-identical.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("mypyc") is None, reason="mypy not installed"),
]

REPLAY = (
    "import sys, app.core.features as f; print(f.__file__, file=sys.stderr); "
    "from app.cli.main import main; sys.exit(main())"
)


def _copy(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.so")
    shutil.copytree(ROOT / "app", dest / "app", ignore=ignore)
    shutil.copytree(ROOT / "tools", dest / "tools", ignore=ignore)
    return dest


def _cli(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [sys.executable, "-c", REPLAY, *args], cwd=tree, env=env, capture_output=True,
        text=True, timeout=600, check=True,
    )  # fmt: skip


def test_compiled_core_replays_to_the_same_findings(tmp_path: Path) -> None:
    pure = _copy(tmp_path / "pure")
    compiled = _copy(tmp_path / "compiled")
    subprocess.run(
        [sys.executable, "tools/build_core.py"], cwd=compiled, capture_output=True, timeout=900,
        check=True,
    )  # fmt: skip
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.json"
    _cli(pure, "simulate", "--scenario", "smoke", "--out", str(events), "--truth", str(truth))
    out = {}
    for name, tree in (("pure", pure), ("compiled", compiled)):
        found = tmp_path / f"{name}.jsonl"
        run = _cli(tree, "replay", str(events), "--out", str(found))
        loaded = run.stderr.splitlines()[0]
        assert loaded.startswith(str(tree)), f"{name} run imported {loaded}"
        assert loaded.endswith(".py") == (name == "pure"), loaded
        out[name] = found.read_bytes()
    assert out["pure"].count(b"\n") > 5, "the smoke scenario yields findings"
    assert out["compiled"] == out["pure"]
