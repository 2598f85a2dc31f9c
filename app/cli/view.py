"""Readable one-line renderings of findings, for the demo screen and ``alerts tail``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any, TextIO

COLOURS = {
    "Critical": "\033[1;97;41m",
    "High": "\033[1;31m",
    "Medium": "\033[33m",
    "Low": "\033[36m",
}
RESET = "\033[0m"


def use_colour(stream: TextIO = sys.stdout) -> bool:
    """Colour only on a terminal."""
    return hasattr(stream, "isatty") and stream.isatty()


def finding_line(finding: dict[str, Any], colour: bool = False, width: int = 160) -> str:
    """One line: time, severity, detector, activity, accounts and top evidence."""
    info = finding.get("finding_info", {})
    severity = str(finding.get("severity", "?"))
    when = datetime.fromtimestamp(finding.get("time", 0) / 1000, UTC).strftime("%m-%d %H:%M:%S")
    activity = {1: "NEW", 2: "UPD", 3: "CLOSE"}.get(finding.get("activity_id", 0), "?")
    accounts = finding.get("unmapped", {}).get("total_accounts", len(finding.get("resources", [])))
    subject = finding.get("unmapped", {}).get("subject", "")
    evidence = ", ".join(
        f"{e['data']['name']}={e['data']['value']:.3g}"
        for e in finding.get("evidences", [])[:3]
        if "data" in e
    )
    sev = f"{severity:<8}"
    if colour:
        sev = f"{COLOURS.get(severity, '')}{sev}{RESET}"
    line = (
        f"{when} {sev} {activity:<5} {info.get('analytic', {}).get('name', '?'):<18} "
        f"{accounts:>5} acct {subject[:28]:<28} {evidence}"
    )
    return line[: width + (len(line) - len(_strip(line)))]


def runbook_line(finding: dict[str, Any]) -> str:
    """The runbook reference of a finding."""
    refs = finding.get("remediation", {}).get("references", [])
    return f"    runbook: {refs[0]}" if refs else ""


def _strip(text: str) -> str:
    import re

    return re.sub(r"\033\[[0-9;]*m", "", text)
