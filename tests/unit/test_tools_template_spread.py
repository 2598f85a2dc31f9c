from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.helpers import load_tool, smoke_suite


def test_template_spread_measures_pairs_and_each_campaigns_clusters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, truth, _ = smoke_suite(tmp_path)
    tool = load_tool("template_spread")

    every, camps = tool.fingerprints(path, truth, 500)
    assert len(every) == 500 and all(every)
    assert set(camps) == {c["id"] for c in truth["campaigns"]}
    shares = tool.pair_shares(every)
    assert list(shares.values()) == sorted(shares.values()) and shares[22] < 1.0
    assert tool.pair_shares([0, 0b111]) == {b: 1.0 for b in tool.BITS}
    assert tool.majority([0b011, 0b110, 0b010]) == 0b010
    near = [0xFF00, 0xFF01, 0xFF03, (1 << 64) - 1]  # a tight cluster and a stranger
    assert tool.clusters(near, radius=4) == [(3, 1, 1), (1, 0, 0)]  # centre 0xFF01

    truth_file = str(tmp_path / "truth.json")
    assert tool.main([str(path), truth_file, "--prompts", "500"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("500 first-turn prompts") and "clusters" in out
    assert tool.main([str(tmp_path / "missing.jsonl"), truth_file]) == 2
    assert "cannot read" in capsys.readouterr().err
