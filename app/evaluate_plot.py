"""Timeline plot for ``evaluate --plot``: campaigns as bars, findings as marks, over event time."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from app.errors import InputFileError
from app.evaluate import ACCOUNT_DETECTOR, detector_of


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputFileError(
            "--plot needs matplotlib: pip install 'abuse-detector[plot]' (or pip install matplotlib)"
        ) from None
    return plt


def plot_timeline(truth: dict[str, Any], findings: Iterable[dict[str, Any]], out: Path) -> None:
    """Draw campaigns (start to end) against the findings that named their members."""
    plt = _pyplot()
    campaigns = sorted(truth["campaigns"], key=lambda c: float(c["start_ts"]))
    owner = {str(a): i for i, c in enumerate(campaigns) for a in c.get("accounts") or ()}
    t0 = min([float(c["start_ts"]) for c in campaigns] or [0.0])
    hits: dict[int, list[tuple[float, bool]]] = {}
    benign: list[float] = []
    for f in findings:
        if f.get("activity_id") == 3:
            continue
        ts = (float(f.get("time", 0)) / 1000.0 - t0) / 3600.0
        group = detector_of(f) != ACCOUNT_DETECTOR
        rows = {
            owner.get(str(r.get("uid")))
            for r in f.get("resources") or ()
            if r.get("type") == "account"
        }
        for row in rows:
            if row is None:
                benign.append(ts)
            else:
                hits.setdefault(row, []).append((ts, group))
    height = max(2.5, 0.45 * (len(campaigns) + 1))
    fig, ax = plt.subplots(figsize=(11, height))
    for i, c in enumerate(campaigns):
        start = (float(c["start_ts"]) - t0) / 3600.0
        end = (float(c["end_ts"]) - t0) / 3600.0
        ax.barh(i, end - start, left=start, height=0.5, color="#d9d9d9", edgecolor="#999999")
        marks = hits.get(i, [])
        acc = [t for t, g in marks if not g]
        grp = [t for t, g in marks if g]
        ax.plot(acc, [i] * len(acc), "|", color="#c0392b", markersize=9)
        ax.plot(grp, [i + 0.18] * len(grp), "v", color="#2c3e80", markersize=5)
    if benign:
        ax.plot(benign, [-1] * len(benign), "x", color="#e67e22", markersize=6)
    labels = [f"{c['id']} ({c['kind']})" for c in campaigns]
    ax.set_yticks([-1, *range(len(campaigns))], ["benign (false positives)", *labels])
    ax.set_xlabel("hours of event time after the first campaign start")
    ax.set_title(
        "campaigns (bars) against findings: | account finding, v campaign finding, x benign"
    )
    ax.invert_yaxis()
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=110)
    except OSError as exc:
        raise InputFileError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
