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


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``app/`` built with mypyc (once for the module)."""
    tree = _copy(tmp_path_factory.mktemp("compiled"))
    subprocess.run(
        [sys.executable, "tools/build_core.py"], cwd=tree, capture_output=True, timeout=900,
        check=True,
    )  # fmt: skip
    return tree


def test_compiled_core_replays_to_the_same_findings(tmp_path: Path, compiled: Path) -> None:
    pure = _copy(tmp_path / "pure")
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


HASHES = """
import random, sys
import app.partition as p
from aiokafka.partitioner import murmur2
assert p.__file__.endswith(".so"), p.__file__
rng = random.Random(7)
for _ in range(20_000):
    data = rng.randbytes(rng.randrange(0, 70))
    assert p.murmur2(data) == murmur2(data), data
    assert p.partition_of(data, 12) == (murmur2(data) & 0x7FFFFFFF) % 12, data
print("ok")
"""


def test_the_compiled_partition_hash_is_kafkas(compiled: Path) -> None:
    """Native 64-bit integers in the compiled build: every product must stay in range."""
    env = {**os.environ, "PYTHONPATH": str(compiled)}
    run = subprocess.run(
        [sys.executable, "-c", HASHES], cwd=compiled, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
