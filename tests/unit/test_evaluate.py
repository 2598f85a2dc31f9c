"""Evaluate: campaign and account figures from truth and findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from app.cli.evaluate import format_report
from app.cli.main import main
from app.evaluate import evaluate, member_starts

T0 = 1_767_225_600.0


def finding(
    ts: float,
    accounts: list[str],
    detector: str = "account-extraction",
    activity: int = 1,
    uid: str | None = None,
) -> dict[str, Any]:
    return {
        "activity_id": activity,
        "time": int(ts * 1000),
        "finding_info": {"uid": uid or f"{detector}:{accounts[0]}", "analytic": {"name": detector}},
        "resources": [{"type": "account", "uid": a} for a in accounts],
    }


def truth() -> dict[str, Any]:
    accounts: dict[str, Any] = {f"s{i}": {"role": "c-scrape"} for i in range(1)}
    accounts |= {f"h{i}": {"role": "c-cot"} for i in range(4)}
    accounts |= {f"y{i}": {"role": "c-hydra"} for i in range(10)}
    accounts |= {f"b{i}": {"role": "casual"} for i in range(1000)}
    accounts |= {f"e{i}": {"role": "eval-run"} for i in range(10)}
    return {
        "start_ts": T0,
        "end_ts": T0 + 86400,
        "campaigns": [
            {
                "id": "c-scrape",
                "kind": "scraper",
                "start_ts": T0 + 3600,
                "end_ts": T0 + 7200,
                "accounts": ["s0"],
            },
            {
                "id": "c-cot",
                "kind": "cot-harvest",
                "start_ts": T0 + 600,
                "end_ts": T0 + 9000,
                "accounts": ["h0", "h1", "h2", "h3"],
            },
            {
                "id": "c-hydra",
                "kind": "hydra",
                "start_ts": T0,
                "end_ts": T0 + 9000,
                "accounts": [f"y{i}" for i in range(10)],
            },
        ],
        "accounts": accounts,
    }


def sample_findings() -> list[dict[str, Any]]:
    return [
        finding(T0 + 3600 + 120, ["s0"]),
        finding(T0 + 3600 + 500, ["s0"], activity=2),
        finding(T0 + 600 + 60, ["h0"]),
        finding(T0 + 600 + 300, ["h1"]),
        finding(T0 + 600 + 900, ["h2"]),
        finding(T0 + 5000, ["b7"]),
        finding(T0 + 9999, ["b8"], activity=3),  # a close is not a flag
        finding(T0 + 1200, ["y1", "y2", "y3", "b9"], detector="hydra-cluster", uid="g1"),
        finding(
            T0 + 1800,
            ["y1", "y2", "y3", "y4", "y5", "b9"],
            detector="hydra-cluster",
            uid="g1",
            activity=2,
        ),
    ]


def test_campaign_and_account_figures() -> None:
    r = evaluate(truth(), sample_findings())
    assert r["days"] == pytest.approx(1.0)
    camp = {c["id"]: c for c in r["campaigns"]}
    assert camp["c-scrape"]["found"] and camp["c-scrape"]["time_to_detect_s"] == pytest.approx(120)
    assert camp["c-cot"]["member_recall"] == pytest.approx(0.75)
    assert camp["c-cot"]["median_member_ttd_s"] == pytest.approx(300)
    assert camp["c-hydra"]["campaign_findings"] == 1
    assert camp["c-hydra"]["campaign_ttd_s"] == pytest.approx(1200)
    assert camp["c-hydra"]["campaign_member_recall"] == pytest.approx(0.5)
    assert camp["c-hydra"]["campaign_precision"] == pytest.approx(5 / 6)
    acc = r["accounts"]
    assert acc["positives"] == 15 and acc["true_positives"] == 9 and acc["false_positives"] == 2
    assert acc["precision"] == pytest.approx(9 / 11)
    assert r["benign"]["casual"]["flagged"] == 2
    assert r["benign"]["casual"]["fp_per_10k_per_day"] == pytest.approx(20.0)
    assert r["benign"]["eval-run"]["flagged"] == 0
    assert r["detectors"]["hydra-cluster"]["accounts"] == 6
    targets = {t["name"]: t for t in r["targets"]}
    assert targets["scraper: member recall"]["ok"]
    assert not targets["cot-harvest: member recall"]["ok"]
    assert not targets["benign casual: FP per 10k accounts per day"]["ok"]
    assert targets["benign eval-run: FP per 10k accounts per day"]["ok"]


def test_a_finding_opened_for_another_campaign_dates_from_the_part_naming_this_one() -> None:
    # The first part names a member of another campaign; the later parts name hydra members,
    # who are most of the finding's members, so it counts for the hydra from its second part.
    g = {"detector": "hydra-cluster", "uid": "g2"}
    found = [
        finding(T0 - 3000, ["h0"], **g),
        finding(T0 + 1500, ["y1", "y2", "y3"], activity=2, **g),
        finding(T0 + 2000, ["y4", "y5"], activity=2, **g),
    ]
    report = evaluate(truth(), found)
    hydra = {c["id"]: c for c in report["campaigns"]}["c-hydra"]
    assert hydra["campaign_findings"] == 1
    assert hydra["campaign_ttd_s"] == pytest.approx(1500)
    assert hydra["campaign_precision"] == pytest.approx(5 / 6)
    # The finding names members of two campaigns: the report shows what it holds.
    assert report["mixed_group_findings"] == [
        {"uid": "g2", "owner": "c-hydra", "accounts": 6, "members": {"c-hydra": 5, "c-cot": 1}}
    ]
    text = format_report(report)
    assert "group findings naming members of several campaigns: 1" in text
    assert "g2               owner c-hydra: c-hydra 5, c-cot 1" in text


def test_a_finding_of_one_campaign_and_bystanders_is_not_mixed() -> None:
    assert evaluate(truth(), sample_findings())["mixed_group_findings"] == []


def test_per_account_start_time_is_used_when_known() -> None:
    t = truth()
    t["accounts"]["h1"]["first_ts"] = T0 + 800
    r = evaluate(t, [finding(T0 + 900, ["h1"])])
    assert r["campaigns"][1]["median_member_ttd_s"] == pytest.approx(100)


def test_cli_table_json_and_plot(tmp_path: Path, capsys) -> None:
    tp, fp = tmp_path / "truth.json", tmp_path / "findings.jsonl"
    tp.write_bytes(orjson.dumps(truth()))
    fp.write_bytes(b"\n".join(orjson.dumps(f) for f in sample_findings()) + b"\n")
    assert main(["evaluate", "--truth", str(tp), "--findings", str(fp)]) == 0
    out = capsys.readouterr().out
    assert "c-scrape" in out and "FP/10k/day" in out and "[MISS]" in out
    assert "several campaigns" not in out  # no finding of the sample mixes campaigns
    assert main(["evaluate", "--truth", str(tp), "--findings", str(fp), "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["kinds"]["scraper"]["found"] == 1
    pytest.importorskip("matplotlib")
    png = tmp_path / "t.png"
    assert main(["evaluate", "--truth", str(tp), "--findings", str(fp), "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_bad_inputs_are_one_line_errors(tmp_path: Path, capsys) -> None:
    tp = tmp_path / "truth.json"
    tp.write_bytes(b"{}")
    fp = tmp_path / "f.jsonl"
    fp.write_bytes(b"not json\n")
    assert main(["evaluate", "--truth", str(tp), "--findings", str(fp)]) == 2
    assert "campaigns" in capsys.readouterr().err
    tp.write_bytes(orjson.dumps(truth()))
    assert main(["evaluate", "--truth", str(tp), "--findings", str(fp)]) == 2
    assert "not a JSON finding" in capsys.readouterr().err


def test_member_starts_from_events_file(tmp_path: Path) -> None:
    rows = [
        {"account_id": "h1", "ts": T0 + 100},  # before its campaign start: not the start
        {"account_id": "h1", "ts": T0 + 700},
        {"account_id": "h1", "ts": T0 + 900},
        {"account_id": "b1", "ts": T0 + 5},
        {"account_id": "h2", "ts": "2026-01-01T00:20:00+00:00"},
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\nnot json\n")
    starts = member_starts(path, truth())
    assert starts == {"h1": T0 + 700, "h2": T0 + 1200}
    r = evaluate(truth(), [finding(T0 + 760, ["h1"])], starts=starts)
    assert r["campaigns"][1]["median_member_ttd_s"] == pytest.approx(60)


def test_benign_flags_are_split_by_detector() -> None:
    r = evaluate(truth(), sample_findings())
    assert r["benign"]["casual"]["by_detector"] == {"account-extraction": 1, "hydra-cluster": 1}
    assert r["benign_group_findings"] == 0
