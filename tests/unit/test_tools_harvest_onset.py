from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.helpers import load_tool, smoke_suite


def test_harvest_onset_counts_only_the_members_of_the_kind_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, truth, _ = smoke_suite(tmp_path)
    tool = load_tool("harvest_onset")

    found, bad = tool.onset(path, truth, "cot-harvest")
    assert bad == 0
    (camp,) = [c for c in truth["campaigns"] if c["kind"] == "cot-harvest"]
    assert set(found) == {camp["id"]}
    hits = found[camp["id"]]
    assert hits, "a cot-harvest campaign sends harvest-shaped requests"
    assert {acc for _, acc in hits} <= set(camp["accounts"])
    assert all(camp["start_ts"] <= ts <= camp["end_ts"] for ts, _ in hits)

    assert tool.main([str(path), str(tmp_path / "truth.json"), "--kind", "cot-harvest"]) == 0
    lines = capsys.readouterr().out.splitlines()
    counts = [int(line.split()[3]) for line in lines if "first" in line]
    assert counts == sorted(counts) and counts[-1] <= len(hits)
    assert tool.main([str(path), str(tmp_path / "truth.json"), "--kind", "no-such-kind"]) == 1
    missing = tmp_path / "missing.jsonl"
    assert tool.main([str(missing), str(tmp_path / "truth.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.jsonl.gz"
    corrupt.write_bytes(path.read_bytes()[:2000])
    assert tool.main([str(corrupt), str(tmp_path / "truth.json")]) == 2
    assert "corrupt" in capsys.readouterr().err
    assert tool.main([str(path), str(tmp_path / "missing-truth.json")]) == 2
