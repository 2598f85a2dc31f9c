"""Rendered prompt texts, addressed by index, with their SimHash fingerprints cached.

Events refer to texts by index; a text is rendered once and fingerprinted at most once, so
writing millions of events stays fast even in fingerprints-only mode.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

from app.core.text import simhash64
from app.errors import InputFileError

Renderer = Callable[[random.Random], str]


class TextBank:
    """A table of texts; pools of rendered texts per family."""

    def __init__(self, seed: int) -> None:
        self.texts: list[str] = []
        self._fps: dict[int, str] = {}
        self._index: dict[str, int] = {}
        self.rand = random.Random(seed)

    def add(self, text: str) -> int:
        """Add one text (deduplicated) and return its index."""
        idx = self._index.get(text)
        if idx is None:
            idx = self._index[text] = len(self.texts)
            self.texts.append(text)
        return idx

    def pool(self, render: Renderer, n: int) -> np.ndarray:
        """Render ``n`` texts with ``render`` and return their indices."""
        r = self.rand
        return np.array([self.add(render(r)) for _ in range(max(1, n))], dtype=np.int64)

    def wrapped(self, wrappers: list[str], tasks: list[str], n: int) -> np.ndarray:
        """Render ``n`` harvest prompts: random wrapper around a random task."""
        r = self.rand
        return np.array(
            [self.add(r.choice(wrappers).format(task=r.choice(tasks))) for _ in range(max(1, n))],
            dtype=np.int64,
        )

    def fingerprint(self, idx: int) -> str:
        """The 16-hex-digit SimHash of text ``idx`` (computed once)."""
        fp = self._fps.get(idx)
        if fp is None:
            fp = self._fps[idx] = f"{simhash64(self.texts[idx]):016x}"
        return fp


def load_prompts(path: str | Path, limit: int = 200_000) -> list[str]:
    """Read a JSONL corpus with a ``prompt`` or ``question`` field per line."""
    p = Path(path)
    out: list[str] = []
    try:
        if p.suffix == ".gz":
            import gzip

            raw = gzip.decompress(p.read_bytes())
        else:
            raw = p.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read prompts file {p}: {exc.strerror or exc}") from None
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise InputFileError(f"{p}:{n}: not valid JSON") from None
        text = obj.get("prompt") or obj.get("question") if isinstance(obj, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise InputFileError(f"{p}:{n}: needs a non-empty 'prompt' or 'question' string")
        out.append(text.strip()[:4000])
        if len(out) >= limit:
            break
    if not out:
        raise InputFileError(f"{p}: no prompts found")
    return out
