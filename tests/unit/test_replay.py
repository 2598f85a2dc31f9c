"""Replay: file in, findings out, bad lines reported and never fatal."""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from app.cli.main import main
from app.core.text import FLAG_COT
from app.errors import InputFileError
from app.replay import errors_path_for, read_events, replay
from app.sim import generate, load_scenario
from app.sim.output import write_jsonl
from tests.unit.test_core_engine import casual, harvester
from tests.unit.test_core_features import T0


def write_events(path: Path, bad: list[bytes] | None = None) -> int:
    rng = random.Random(3)
    events = harvester(rng, "bad", T0 + 600, 60)
    for k in range(5):
        events += casual(rng, f"good{k}", T0, 40)
    events.sort(key=lambda e: e.ts)
    lines = []
    for e in events:
        row = e.to_dict()
        if row.pop("flags", 0) & FLAG_COT:  # flags come from raw text in files
            row["prompt"] = f"Explain your reasoning step by step about zebracorn {e.event_id}"
        lines.append(orjson.dumps(row))
    for i, junk in enumerate(bad or []):
        lines.insert(3 + 7 * i, junk)
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return len(events)


def test_errors_path_for() -> None:
    assert errors_path_for(Path("out/findings.jsonl")) == Path("out/findings.errors.jsonl")
    assert errors_path_for(Path("f.jsonl.gz")) == Path("f.errors.jsonl")
    assert errors_path_for(Path("f")) == Path("f.errors.jsonl")


def test_replay_writes_findings_and_reports_bad_lines(tmp_path: Path) -> None:
    src = tmp_path / "events.jsonl.gz"
    bad = [
        b"{not json",
        b'{"event_id": "x"}',
        b'{"event_id":"e","ts":1767225600,"account_id":"a","model":"m","prompt_tokens":-1,"completion_tokens":1, "prompt":"secret words"}',
    ]
    n = write_events(src, bad)
    out = tmp_path / "findings.jsonl"
    summary = replay(src, out)
    assert summary.events == n and summary.bad_lines == 3
    assert summary.bad_reasons == {"invalid_json": 1, "missing_field": 1, "out_of_range": 1}
    errors = [orjson.loads(line) for line in errors_path_for(out).read_bytes().splitlines()]
    assert [e["line"] for e in errors] == [4, 11, 18]
    assert b"secret" not in errors_path_for(out).read_bytes()
    assert b"zebracorn" not in out.read_bytes()  # raw text never reaches a finding
    findings = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert findings and findings[0]["activity_id"] == 1
    accounts = {r["uid"] for f in findings for r in f["resources"] if r["type"] == "account"}
    assert accounts == {"bad"}
    times = [f["time"] for f in findings if f["activity_id"] != 3]
    assert all(T0 * 1000 <= t <= (T0 + 86400) * 1000 for t in times)


def test_replay_cli_prints_summary(tmp_path: Path, capsys) -> None:
    src = tmp_path / "events.jsonl"
    write_events(src)
    out = tmp_path / "f.jsonl"
    assert main(["replay", str(src), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "replayed" in err and "findings:" in err and "account-extraction" in err
    assert out.stat().st_size > 0


def test_replay_cli_missing_file_is_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["replay", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "f.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_replay_corrupt_gzip_is_reported(tmp_path: Path, capsys) -> None:
    src = tmp_path / "broken.jsonl.gz"
    src.write_bytes(gzip.compress(b'{"a": 1}\n' * 1000)[:60])
    assert main(["replay", str(src), "--out", str(tmp_path / "f.jsonl"), "--quiet"]) == 2
    assert "corrupt" in capsys.readouterr().err


def test_read_events_gives_none_for_a_line_that_is_not_an_event(tmp_path: Path) -> None:
    src = tmp_path / "events.jsonl"
    n = write_events(src, [b"{not json", b"", b'{"event_id": "x"}'])
    got = list(read_events(src))
    assert sum(e is None for e in got) == 2  # the blank line is skipped
    assert len([e for e in got if e is not None]) == n
    assert got[3] is None and got[0] is not None and got[0].account_id
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(src.read_bytes())[:60])
    with pytest.raises(InputFileError, match="corrupt"):
        list(read_events(broken))


def test_replay_gives_identical_findings_in_another_process(tmp_path: Path) -> None:
    # Figures in the docs are reproducible: the same events give byte-identical findings,
    # also in a process with another string-hash seed (no wall clock, no set order in them).
    events = tmp_path / "smoke.jsonl.gz"
    write_jsonl(generate(load_scenario("smoke"))[0], events)
    outs = [tmp_path / f"findings-{seed}.jsonl" for seed in ("1", "2")]
    for seed, out in zip(("1", "2"), outs, strict=True):
        cmd = [sys.executable, "-m", "app.cli.main", "replay", str(events), "--out", str(out)]
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=300)
    first = outs[0].read_bytes()
    assert first.count(b"\n") > 10, "the smoke suite gives findings"
    assert first == outs[1].read_bytes()
