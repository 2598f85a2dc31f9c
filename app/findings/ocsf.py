"""Build OCSF 1.x Detection Finding (class 2004) objects from a detection."""

from __future__ import annotations

import hashlib
from typing import Any

from app import PRODUCT_NAME, __version__
from app.core.types import Detection

OCSF_VERSION = "1.3.0"
CLASS_UID = 2004  # Detection Finding
CATEGORY_UID = 2  # Findings
ACTIVITY_NEW, ACTIVITY_UPDATE, ACTIVITY_CLOSE = 1, 2, 3
ACTIVITY_NAMES = {ACTIVITY_NEW: "Create", ACTIVITY_UPDATE: "Update", ACTIVITY_CLOSE: "Close"}
SEVERITIES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
STATUS_NEW, STATUS_IN_PROGRESS, STATUS_RESOLVED = 1, 2, 4
STATUS_NAMES = {STATUS_NEW: "New", STATUS_IN_PROGRESS: "In Progress", STATUS_RESOLVED: "Resolved"}
RUNBOOK = "docs/runbook.md"
MAX_RESOURCES = 200

TITLES = {
    "account-extraction": "Account shows extraction-like use of the API",
    "hydra-cluster": "Coordinated accounts (hydra cluster) harvesting model outputs",
}


def finding_uid(detector: str, subject: str) -> str:
    """Stable dedup key of the finding about ``subject`` by ``detector``."""
    return hashlib.sha256(f"{detector}\x1f{subject}".encode()).hexdigest()[:32]


def build_finding(
    detection: Detection,
    uid: str,
    activity_id: int,
    severity_id: int,
    first_seen: float,
    status_id: int = STATUS_NEW,
) -> dict[str, Any]:
    """Return the OCSF Detection Finding dict for one lifecycle step of a detection."""
    detector = detection.detector
    accounts = detection.accounts[:MAX_RESOURCES] or [detection.subject]
    top = sorted(detection.evidence, key=lambda e: e.weight, reverse=True)[:6]
    evidence_text = ", ".join(
        f"{e.name}={e.value:.3g} (baseline {e.baseline:.3g})" for e in top[:3]
    )
    if detection.total_accounts > 1:
        who = f"{detection.total_accounts} accounts (group {detection.subject})"
    else:
        who = f"account {detection.subject}"
    severity = SEVERITIES[severity_id]
    verb = {ACTIVITY_NEW: "new", ACTIVITY_UPDATE: "updated", ACTIVITY_CLOSE: "closed"}[activity_id]
    return {
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": ACTIVITY_NAMES[activity_id],
        "type_uid": CLASS_UID * 100 + activity_id,
        "time": int(detection.ts * 1000),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": STATUS_NAMES.get(status_id, "Other"),
        "message": f"[{severity}] {detector} {verb}: {who}; {evidence_text or 'no evidence'}",
        "metadata": {
            "product": {"name": PRODUCT_NAME, "vendor_name": PRODUCT_NAME, "version": __version__},
            "version": OCSF_VERSION,
        },
        "finding_info": {
            "uid": uid,
            "title": TITLES.get(detector, detector),
            "analytic": {"name": detector, "type_id": 1, "type": "Rule", "uid": detector},
            "first_seen_time": int(first_seen * 1000),
            "last_seen_time": int(detection.ts * 1000),
            "types": [detection.labels.get("kind", detector)],
        },
        "resources": [{"type": "account", "uid": account} for account in accounts],
        "evidences": [{"data": e.to_dict()} for e in top],
        "confidence_score": round(100 * min(1.0, max(0.0, detection.score))),
        "remediation": {
            "desc": "Check the evidence against the account history; if confirmed, suspend the "
            "accounts and block the shared fingerprints. Send a verdict with "
            "`abuse-detector feedback`.",
            "references": [f"{RUNBOOK}#{detector}"],
        },
        "unmapped": {
            "subject": detection.subject,
            "total_accounts": detection.total_accounts,
            "score": round(detection.score, 4),
            **{f"label_{k}": v for k, v in detection.labels.items()},
        },
    }
