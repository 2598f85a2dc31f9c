"""tools/seed_sweep.py: the smoke scenario on two seeds, end to end through the CLI."""

from __future__ import annotations

import gzip
import json
from itertools import islice
from pathlib import Path

import pytest

from tests.unit.helpers import load_tool


def test_a_sweep_reports_every_target_per_seed_and_reuses_its_suites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = load_tool("seed_sweep")
    args = ["--scenario", "smoke", "--seed", "default", "--seed", "3", "--workdir", str(tmp_path)]
    assert tool.main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["smoke", "default", "smoke", "3"]
    report = json.loads((tmp_path / "smoke-3-report.json").read_text())
    rows = {line.split("  ")[0].strip(): line for line in out[1:-1]}
    assert set(rows) == {t["name"] for t in report["targets"]} | {
        "benign accounts flagged",
        "group findings naming several campaigns",
    }
    missed = sum(not t["ok"] for t in report["targets"])
    assert sum(line.split()[-1] == "!" for line in out[1:-1]) == missed
    flagged = sum(b["flagged"] for b in report["benign"].values())
    assert rows["benign accounts flagged"].split()[-1] == str(flagged)
    mixed = len(report["mixed_group_findings"])
    assert rows["group findings naming several campaigns"].split()[-1] == str(mixed)
    # The simulated suites are kept and not simulated again (a work directory relative to
    # where the sweep runs from); a failing suite is reported.
    events = tmp_path / "smoke-3.jsonl.gz"
    made = events.stat().st_mtime_ns
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--scenario", "smoke", "--seed", "3", "--workdir", "."]) == 0
    assert events.stat().st_mtime_ns == made
    capsys.readouterr()
    assert tool.main(["--scenario", "no-such-scenario", "--workdir", str(tmp_path)]) == 1
    assert "no-such-scenario seed default: simulate failed" in capsys.readouterr().err


def test_a_fingerprints_only_sweep_keeps_its_own_suites_without_raw_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tool = load_tool("seed_sweep")
    args = ["--scenario", "smoke", "--seed", "3", "--workdir", str(tmp_path), "--fingerprints-only"]
    assert tool.main(args) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["smoke", "3", "fp"]
    events = tmp_path / "smoke-3-fp.jsonl.gz"
    with gzip.open(events, "rt") as lines:
        first = [json.loads(line) for line in islice(lines, 2000)]
    assert not any("prompt" in e or "system_prompt" in e for e in first)
    assert any("prompt_fp" in e for e in first)
    assert (tmp_path / "smoke-3-fp-report.json").exists()
    assert not (tmp_path / "smoke-3.jsonl.gz").exists()
