from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.helpers import load_tool, smoke_suite


def test_group_trace_shows_the_verdicts_of_groups_holding_the_campaign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, truth, truth_path = smoke_suite(tmp_path)
    tool = load_tool("group_trace")
    camp = next(c for c in truth["campaigns"] if c["kind"] == "hydra")

    lines, bad = tool.trace(path, truth, camp["id"], 60.0, 600.0, 3)
    assert bad == 0
    assert [line for line in lines if line.startswith("---")] == [
        f"--- {m} min" for m in range(10, 61, 10)
    ]
    groups = [line for line in lines if not line.startswith("---")]
    assert groups, "a hydra's groups hold several of its accounts within the hour"
    for line in groups:
        mine = int(line.split(f" of {camp['id']}")[0].rsplit(" ", 1)[1])
        sampled = int(line.split("sampled ")[1].split(",")[0])
        assert 3 <= mine <= sampled
        assert ": campaign;" in line or ": blocked " in line
    assert any(": campaign;" in line for line in groups), "the smoke hydra is found"

    assert tool.main([str(path), str(truth_path), camp["id"], "--every", "900"]) == 0
    assert "--- 15 min" in capsys.readouterr().out
    assert tool.main([str(path), str(truth_path), "no-such-campaign"]) == 1
    assert tool.main([str(path), str(truth_path), camp["id"], "--every", "0"]) == 2
    assert tool.main([str(tmp_path / "missing.jsonl"), str(truth_path), camp["id"]]) == 2
    assert tool.main([str(path), str(tmp_path / "missing-truth.json"), camp["id"]]) == 2
    assert "cannot read" in capsys.readouterr().err
