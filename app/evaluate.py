"""Score findings against simulator ground truth: campaigns found, time to detect, FP rates.

Truth is ``{"campaigns": [{"id", "kind", "start_ts", "end_ts", "accounts"}], "accounts":
{id: {"role"}}}``; an account whose role is a campaign id is a positive, any other role is a
benign archetype. Findings are OCSF dicts; their accounts are the ``resources`` of type
``account``, their time is ``time`` (epoch ms), their detector the analytic name.
"""

from __future__ import annotations

import gzip
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from app.errors import InputFileError

ACCOUNT_KINDS = ("scraper", "cot-harvest", "agentic-coding")
GROUP_KINDS = ("hydra", "release-pivot", "blended")
ACCOUNT_DETECTOR = "account-extraction"
DAY_S = 86400.0
BENIGN = "benign"  # the members of a group finding that belong to no campaign


@dataclass(slots=True)
class Flags:
    """When each account was first named by a finding, overall and per detector."""

    first: dict[str, float] = field(default_factory=dict)
    by_detector: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    # group finding uid -> each account it names -> when it first named it
    groups: dict[str, dict[str, float]] = field(default_factory=dict)
    findings: int = 0
    span: tuple[float, float] = (float("inf"), float("-inf"))


def read_json(path: Path) -> Any:
    """Read a JSON file (or .gz); raise InputFileError with a readable reason."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        return orjson.loads(data)
    except (OSError, EOFError) as exc:
        raise InputFileError(f"cannot read {path}: {exc}") from None
    except orjson.JSONDecodeError as exc:
        raise InputFileError(f"{path} is not valid JSON: {exc}") from None


def read_findings(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the findings of a JSONL file (or .gz); raise InputFileError on a broken line."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as raw:
            for lineno, line in enumerate(raw, start=1):
                if not line.strip():
                    continue
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise InputFileError(f"{path}:{lineno} is not a JSON finding") from None
    except (OSError, EOFError) as exc:
        raise InputFileError(f"cannot read {path}: {exc}") from None


def member_starts(events: Path, truth: dict[str, Any]) -> dict[str, float]:
    """Return each campaign account's first event time at or after its campaign's start."""
    start_of = {
        str(a): float(c["start_ts"]) for c in truth["campaigns"] for a in c.get("accounts") or ()
    }
    first: dict[str, float] = {}
    opener: Any = gzip.open if events.suffix == ".gz" else open
    try:
        with opener(events, "rb") as raw:
            for line in raw:
                try:
                    obj = orjson.loads(line)
                    acc = obj["account_id"]
                    ts = obj["ts"]
                    if isinstance(ts, str):
                        ts = datetime.fromisoformat(ts).timestamp()
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # replay reports bad lines; here they only cannot start anything
                begin = start_of.get(acc)
                if begin is not None and ts >= begin and ts < first.get(acc, float("inf")):
                    first[acc] = float(ts)
    except (OSError, EOFError) as exc:
        raise InputFileError(f"cannot read {events}: {exc}") from None
    return first


def detector_of(finding: dict[str, Any]) -> str:
    """Return the analytic (detector) name of a finding."""
    analytic = (finding.get("finding_info") or {}).get("analytic")
    if isinstance(analytic, dict):
        return str(analytic.get("name") or "?")
    return str(analytic or "?")


def collect(findings: Iterable[dict[str, Any]]) -> Flags:
    """Reduce findings to first-flag times per account, and per group finding when it first
    named each of its accounts."""
    flags = Flags()
    lo, hi = flags.span
    for finding in findings:
        if finding.get("activity_id") == 3:
            continue
        flags.findings += 1
        ts = float(finding.get("time", 0)) / 1000.0
        lo, hi = min(lo, ts), max(hi, ts)
        det = detector_of(finding)
        accounts = {
            str(r.get("uid")) for r in finding.get("resources") or () if r.get("type") == "account"
        }
        per = flags.by_detector[det]
        for acc in accounts:
            if ts < flags.first.get(acc, float("inf")):
                flags.first[acc] = ts
            if ts < per.get(acc, float("inf")):
                per[acc] = ts
        if det != ACCOUNT_DETECTOR:
            uid = str((finding.get("finding_info") or {}).get("uid") or id(finding))
            named = flags.groups.setdefault(uid, {})
            for acc in accounts:
                if ts < named.get(acc, float("inf")):
                    named[acc] = ts
    flags.span = (lo, hi)
    return flags


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _owners(members: dict[str, dict[str, int]]) -> dict[str, str | None]:
    """Map each group finding to the campaign most of its named members belong to (or None),
    from its ``members`` (see ``_members``)."""
    owners: dict[str, str | None] = {}
    for uid, counts in members.items():
        votes = {k: n for k, n in counts.items() if k != BENIGN}
        owners[uid] = max(votes, key=lambda k: votes[k]) if votes else None
    return owners


def _members(
    accs: Iterable[str], truth_acc: dict[str, Any], campaign_ids: set[str]
) -> dict[str, int]:
    """How many of these accounts each campaign holds, and how many are benign (``BENIGN``)."""
    members: dict[str, int] = defaultdict(int)
    for acc in accs:
        role = str((truth_acc.get(acc) or {}).get("role"))
        members[role if role in campaign_ids else BENIGN] += 1
    return members


def _campaign(
    c: dict[str, Any],
    truth_acc: dict[str, Any],
    flags: Flags,
    owners: dict[str, str | None],
    starts: dict[str, float],
) -> dict[str, Any]:
    start = float(c["start_ts"])
    members = [str(a) for a in c.get("accounts") or ()]
    ttd: list[float] = []
    early = 0
    for acc in members:
        ts = flags.first.get(acc)
        if ts is None:
            continue
        info = truth_acc.get(acc) or {}
        own = starts.get(acc) or info.get("first_ts") or info.get("start_ts") or start
        begin = max(start, float(own))
        if ts < start:
            early += 1
        ttd.append(max(0.0, ts - begin))
    member_set = set(members)
    touching = [accs.keys() & member_set for accs in flags.groups.values()]
    named_any = set().union(*touching)
    # A finding counts for the campaign most of its members belong to, from the first part
    # that named one of them: a finding opened for another campaign that later names this
    # one's members does not date this one's detection back to its own first part.
    group_hits = [
        (min(ts for acc, ts in accs.items() if acc in member_set), accs.keys())
        for uid, accs in flags.groups.items()
        if owners[uid] == c["id"]
    ]
    named = set().union(*(accs for _, accs in group_hits))
    first = min((flags.first[a] for a in members if a in flags.first), default=None)
    return {
        "id": c["id"],
        "kind": c["kind"],
        "members": len(members),
        "found": first is not None,
        "time_to_detect_s": None if first is None else max(0.0, first - start),
        "members_flagged": len(ttd),
        "member_recall": len(ttd) / len(members) if members else 0.0,
        "median_member_ttd_s": _median(ttd),
        "flagged_before_start": early,
        "campaign_findings": len(group_hits),
        "campaign_ttd_s": None
        if not group_hits
        else max(0.0, min(ts for ts, _ in group_hits) - start),
        "campaign_member_recall": len(named_any) / len(members) if members else 0.0,
        "campaign_precision": len(named & member_set) / len(named) if named else None,
        "campaign_precision_any": (
            sum(str((truth_acc.get(a) or {}).get("role")) in owners.values() for a in named)
            / len(named)
            if named
            else None
        ),
        "_ttd": ttd,
    }


def evaluate(
    truth: dict[str, Any],
    findings: Iterable[dict[str, Any]],
    days: float | None = None,
    starts: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Compare findings with the truth; return the full report as a JSON-ready dict.

    A member's time to detect counts from its own first request when known (``starts``, or
    ``first_ts`` in the truth), else from its campaign's start.
    """
    if not isinstance(truth, dict) or "accounts" not in truth or "campaigns" not in truth:
        raise InputFileError("truth must hold 'campaigns' and 'accounts'")
    flags = collect(findings)
    truth_acc: dict[str, Any] = truth["accounts"]
    campaign_ids = {str(c["id"]) for c in truth["campaigns"]}
    members = {uid: _members(accs, truth_acc, campaign_ids) for uid, accs in flags.groups.items()}
    owners = _owners(members)
    campaigns = [_campaign(c, truth_acc, flags, owners, starts or {}) for c in truth["campaigns"]]
    if days is None:
        days = _days(truth, flags)
    benign: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"accounts": 0, "flagged": 0, "flagged_ids": [], "by_detector": {}}
    )
    positives = flagged_pos = flagged_neg = 0
    for acc, info in truth_acc.items():
        role = str((info or {}).get("role", "?"))
        hit = acc in flags.first
        if role in campaign_ids:
            positives += 1
            flagged_pos += hit
            continue
        row = benign[role]
        row["accounts"] += 1
        if hit:
            flagged_neg += 1
            row["flagged"] += 1
            for det, per in flags.by_detector.items():
                if acc in per:
                    row["by_detector"][det] = row["by_detector"].get(det, 0) + 1
            if len(row["flagged_ids"]) < 10:
                row["flagged_ids"].append(acc)
    for row in benign.values():
        row["fp_per_10k_per_day"] = row["flagged"] / max(1, row["accounts"]) * 10_000 / days
    flagged = flagged_pos + flagged_neg
    report = {
        "days": days,
        "findings": flags.findings,
        "accounts": {
            "positives": positives,
            "flagged": flagged,
            "true_positives": flagged_pos,
            "false_positives": flagged_neg,
            "precision": flagged_pos / flagged if flagged else None,
            "recall": flagged_pos / positives if positives else None,
        },
        "detectors": _detectors(flags, truth_acc, campaign_ids),
        "benign_group_findings": sum(owner is None for owner in owners.values()),
        "mixed_group_findings": _mixed(members, owners),
        "kinds": _kinds(campaigns),
        "campaigns": [{k: v for k, v in c.items() if not k.startswith("_")} for c in campaigns],
        "benign": dict(sorted(benign.items())),
    }
    report["targets"] = _targets(report)
    return report


def _mixed(
    members: dict[str, dict[str, int]], owners: dict[str, str | None]
) -> list[dict[str, Any]]:
    """Group findings that name members of more than one campaign, the largest first: a
    finding counts for the campaign most of its members belong to (its ``owner``), so the
    others' members in it lower that campaign's precision and leave theirs without it."""
    out = []
    for uid, counts in members.items():
        if sum(1 for k in counts if k != BENIGN) > 1:
            ranked = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
            accounts = sum(counts.values())
            out.append({"uid": uid, "owner": owners[uid], "accounts": accounts, "members": ranked})
    return sorted(out, key=lambda m: (-m["accounts"], m["uid"]))


def _days(truth: dict[str, Any], flags: Flags) -> float:
    scenario = truth.get("scenario")
    meta: dict[str, Any] = scenario if isinstance(scenario, dict) else truth
    start, end = meta.get("start_ts"), meta.get("end_ts")
    if start is None or end is None:
        hours = meta.get("duration_hours")
        if start is not None and hours is not None:
            end = float(start) + float(hours) * 3600.0
    if start is None or end is None:
        spans = [(float(c["start_ts"]), float(c["end_ts"])) for c in truth["campaigns"]]
        lo = min([s for s, _ in spans] + [flags.span[0]])
        hi = max([e for _, e in spans] + [flags.span[1]])
        start, end = lo, hi
    return max(float(end) - float(start), 3600.0) / DAY_S


def _detectors(flags: Flags, truth_acc: dict[str, Any], campaign_ids: set[str]) -> dict[str, Any]:
    out = {}
    for det, per in sorted(flags.by_detector.items()):
        tp = sum(1 for a in per if str((truth_acc.get(a) or {}).get("role")) in campaign_ids)
        out[det] = {
            "accounts": len(per),
            "true_positives": tp,
            "precision": tp / len(per) if per else None,
        }
    return out


def _kinds(campaigns: list[dict[str, Any]]) -> dict[str, Any]:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in campaigns:
        by_kind[c["kind"]].append(c)
    out = {}
    for kind, rows in sorted(by_kind.items()):
        members = sum(c["members"] for c in rows)
        ttd = [t for c in rows for t in c["_ttd"]]
        named = sum(c["campaign_member_recall"] * c["members"] for c in rows)
        precisions = [c["campaign_precision"] for c in rows if c["campaign_precision"] is not None]
        camp_ttd = [c["campaign_ttd_s"] for c in rows if c["campaign_ttd_s"] is not None]
        out[kind] = {
            "campaigns": len(rows),
            "found": sum(c["found"] for c in rows),
            "members": members,
            "member_recall": sum(c["members_flagged"] for c in rows) / members if members else 0.0,
            "median_member_ttd_s": _median(ttd),
            "campaigns_with_group_finding": sum(bool(c["campaign_findings"]) for c in rows),
            "group_member_recall": named / members if members else 0.0,
            "group_precision": min(precisions) if precisions else None,
            "median_group_ttd_s": _median(camp_ttd),
        }
    return out


def _targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The acceptance targets of the detection issues, each with its value and verdict."""
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float | None, target: float, higher: bool) -> None:
        ok = value is not None and (value >= target if higher else value <= target)
        rows.append({"name": name, "value": value, "target": target, "ok": ok})

    kinds = report["kinds"]
    for kind in ACCOUNT_KINDS:
        if kind in kinds:
            k = kinds[kind]
            add(f"{kind}: campaigns found", k["found"] / k["campaigns"], 1.0, True)
            add(f"{kind}: member recall", k["member_recall"], 0.95, True)
            add(f"{kind}: median time to detect (s)", k["median_member_ttd_s"], 600.0, False)
    if "blended" in kinds:
        add("blended: member recall", kinds["blended"]["member_recall"], 0.8, True)
    for kind in GROUP_KINDS:
        if kind in kinds:
            k = kinds[kind]
            add(
                f"{kind}: campaigns with a campaign finding",
                k["campaigns_with_group_finding"] / k["campaigns"],
                1.0,
                True,
            )
            add(f"{kind}: campaign member recall", k["group_member_recall"], 0.9, True)
            add(f"{kind}: campaign precision", k["group_precision"], 0.95, True)
            add(
                f"{kind}: median time to campaign finding (s)",
                k["median_group_ttd_s"],
                900.0,
                False,
            )
    add("group findings on benign accounts only", report["benign_group_findings"], 0, False)
    for role, row in report["benign"].items():
        add(f"benign {role}: FP per 10k accounts per day", row["fp_per_10k_per_day"], 1.0, False)
    return rows
