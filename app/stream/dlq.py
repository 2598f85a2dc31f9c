"""Dead-letter records: the original bytes (prompt text redacted) plus why and where from."""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

_TEXT_FIELDS = ("prompt", "system_prompt")
# For payloads that are not parseable JSON: blank out anything that looks like a text field.
_TEXT_RE = re.compile(rb'("(?:system_)?prompt"\s*:\s*")((?:[^"\\]|\\.)*)("?)', re.DOTALL)


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """One rejected input message, ready to publish to the DLQ topic."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def redact_text(value: bytes) -> tuple[bytes, bool]:
    """Remove raw prompt text from a rejected payload; return (payload, whether redacted)."""
    if b"prompt" not in value:
        return value, False
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        redacted, count = _TEXT_RE.subn(rb"\1[redacted]\3", value)
        return redacted, count > 0
    if isinstance(obj, dict) and any(f in obj for f in _TEXT_FIELDS):
        for field in _TEXT_FIELDS:
            if field in obj:
                obj[field] = "[redacted]"
        return orjson.dumps(obj), True
    return value, False


def dead_letter(
    key: bytes | None,
    value: bytes | None,
    reason: str,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
    now: float,
    max_bytes: int = 256 * 1024,
) -> DeadLetter:
    """Build the DLQ record for a message that failed with ``reason``.

    Payloads over ``max_bytes`` are cut (the broker may refuse them whole); the headers say so.
    """
    payload, redacted = redact_text(value or b"")
    original_size = len(payload)
    if original_size > max_bytes:
        payload = payload[:max_bytes]
    headers = [
        ("reason", reason.encode()),
        ("detail", detail.encode("utf-8", "replace")[:500]),
        ("source_topic", topic.encode()),
        ("source_partition", str(partition).encode()),
        ("source_offset", str(offset).encode()),
        ("time", f"{now:.3f}".encode()),
    ]
    if redacted:
        headers.append(("redacted", b"prompt text removed"))
    if original_size > len(payload):
        headers.append(("truncated", f"first {len(payload)} of {original_size} bytes".encode()))
    return DeadLetter(key=key, value=payload, headers=headers)
