"""Dead-letter records: the original bytes (prompt text redacted) plus why and where from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

_TEXT_FIELDS = ("prompt", "system_prompt")
# A text field in a payload that is not JSON, or in JSON text held in a string: blanked.
_TEXT = r'("(?:system_)?prompt"\s*:\s*")((?:[^"\\]|\\.)*)("?)'
_TEXT_RE = re.compile(_TEXT.encode(), re.DOTALL)
_TEXT_IN_STR = re.compile(_TEXT, re.DOTALL)
_KEY_RE = re.compile(rb'"(?:system_)?prompt"\s*:')
# A key written with escapes ("\u0070rompt":) could be a text field no pattern sees.
_ESCAPED_KEY = re.compile(rb'"(?:[^"\\]|\\.)*\\u[0-9a-fA-F]{4}(?:[^"\\]|\\.)*"\s*:')
REDACTED = b"prompt text removed"
DROPPED = b"payload dropped: not JSON, and prompt text could not be located in it"


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """One rejected input message, ready to publish to the DLQ topic."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def redact_text(value: bytes) -> tuple[bytes, bytes]:
    """Remove raw prompt text from a rejected payload: (payload, what was done, or b"").

    A JSON payload loses every ``prompt`` and ``system_prompt`` field at any depth (a batch
    in an array, a nested request, a key written with escapes, JSON text held in a string).
    A payload that is not JSON keeps its bytes with each ``"prompt": "..."`` string blanked;
    where that cannot be sure of every text field (a field that is not a plain string, a
    key written with escapes) the payload is dropped and only the headers remain.
    """
    if b"prompt" not in value and b"\\u" not in value:
        return value, b""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        redacted, count = _TEXT_RE.subn(rb"\1[redacted]\3", value)
        if len(_KEY_RE.findall(redacted)) > count or _ESCAPED_KEY.search(value):
            return b"", DROPPED
        return redacted, REDACTED if count else b""
    return (orjson.dumps(obj), REDACTED) if _strip_text(obj) else (value, b"")


def _strip_text(obj: object) -> bool:
    """Blank every text field in a decoded JSON value, at any depth; whether any was."""
    found, todo = False, [obj]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            for field in _TEXT_FIELDS:
                if field in item:
                    item[field] = "[redacted]"
                    found = True
            slots: list[tuple[Any, Any]] = list(item.items())
        elif isinstance(item, list):
            slots = list(enumerate(item))
        else:
            continue
        for slot, inner in slots:
            if isinstance(inner, str):
                if "prompt" in inner:  # JSON text inside a string
                    blanked, count = _TEXT_IN_STR.subn(r"\1[redacted]\3", inner)
                    if count:
                        item[slot] = blanked
                        found = True
            else:
                todo.append(inner)
    return found


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
        headers.append(("redacted", redacted))
    if original_size > len(payload):
        headers.append(("truncated", f"first {len(payload)} of {original_size} bytes".encode()))
    return DeadLetter(key=key, value=payload, headers=headers)
