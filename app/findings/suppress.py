"""Suppressions: an allowlist of accounts, orgs and fingerprints, each with expiry and reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from app.errors import InputFileError

KINDS = ("account", "org", "fingerprint", "finding")


@dataclass(slots=True, frozen=True)
class Suppression:
    """Do not publish findings about ``value`` (of ``kind``) until ``expires_ts``."""

    kind: str
    value: str
    reason: str
    expires_ts: float | None = None  # None: never expires

    def active(self, now: float) -> bool:
        """True while the suppression applies at event time ``now``."""
        return self.expires_ts is None or now < self.expires_ts


class Suppressions:
    """The active allowlist, fed from a file and from the feedback topic."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Suppression] = {}

    def add(self, entry: Suppression) -> None:
        """Add or replace an entry."""
        if entry.kind not in KINDS:
            raise ValueError(
                f"unknown suppression kind {entry.kind!r} (use one of {', '.join(KINDS)})"
            )
        self._entries[(entry.kind, entry.value)] = entry

    def remove(self, kind: str, value: str) -> None:
        """Remove an entry if present."""
        self._entries.pop((kind, value), None)

    def match(self, kind: str, value: str | None, now: float) -> Suppression | None:
        """Return the active entry for (kind, value), if any."""
        if value is None:
            return None
        entry = self._entries.get((kind, value))
        return entry if entry is not None and entry.active(now) else None

    def __len__(self) -> int:
        return len(self._entries)

    def load_file(self, path: str | Path) -> int:
        """Load a JSONL or JSON-array allowlist file; return how many entries were read."""
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise InputFileError(f"cannot read allowlist {path}: {exc.strerror}") from None
        rows: list[Any]
        stripped = text.strip()
        try:
            if stripped.startswith(b"["):
                rows = orjson.loads(stripped)
            else:
                rows = [orjson.loads(line) for line in text.splitlines() if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise InputFileError(f"allowlist {path} is not valid JSON/JSONL: {exc}") from None
        for n, row in enumerate(rows, 1):
            try:
                self.add(
                    Suppression(
                        kind=str(row["kind"]),
                        value=str(row["value"]),
                        reason=str(row.get("reason", "")),
                        expires_ts=float(row["expires_ts"])
                        if row.get("expires_ts") is not None
                        else None,
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise InputFileError(f"allowlist {path} entry {n} is invalid: {exc}") from None
        return len(rows)
