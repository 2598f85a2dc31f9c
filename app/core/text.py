"""Derive privacy-safe fingerprints and content flags from raw prompt text.

Raw text goes in, only a 64-bit SimHash and a small bitmask of content flags come out;
callers drop the text right after.
"""

from __future__ import annotations

import re
from hashlib import blake2b

import numpy as np

# Content flags (bitmask). Prompt-level flags describe the user prompt, SYS_* the system prompt.
FLAG_COT = 1 << 0  # elicits step-by-step / internal reasoning written out
FLAG_RUBRIC = 1 << 1  # grading / rubric / reward-model style
FLAG_CODE = 1 << 2  # asks for code
FLAG_TOOL = 1 << 3  # tool use / function calling / agentic
FLAG_MATH = 1 << 4  # math word problem / calculation
FLAG_REWRITE = 1 << 5  # "safe" rewrite of a sensitive query
FLAG_SYS_COT = 1 << 8  # the system prompt asks for step-by-step thinking (benign frameworks do)

FLAG_NAMES = {
    FLAG_COT: "cot",
    FLAG_RUBRIC: "rubric",
    FLAG_CODE: "code",
    FLAG_TOOL: "tool",
    FLAG_MATH: "math",
    FLAG_REWRITE: "rewrite",
    FLAG_SYS_COT: "sys_cot",
}
HARVEST_FLAGS = FLAG_COT | FLAG_RUBRIC | FLAG_REWRITE

_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (
        FLAG_COT,
        re.compile(
            r"step[- ]by[- ]step|chain[- ]of[- ]thought|internal reasoning|reasoning process"
            r"|show (?:all )?(?:your|the) (?:work|reasoning|thinking)|explain your reasoning"
            r"|think (?:through|aloud|out loud)|reasoning trace|articulate .{0,40}reasoning"
            r"|walk (?:me )?through (?:your|the) (?:reasoning|thought)|thought process"
        ),
    ),
    (
        FLAG_RUBRIC,
        re.compile(
            r"rubric|grade (?:the|this|each|following)|score (?:the|this|each) (?:response|answer)"
            r"|rate (?:the|this|each) (?:response|answer)|on a scale of \d+|which response is better"
            r"|evaluate the (?:response|answer|completion)|reward model"
        ),
    ),
    (
        FLAG_CODE,
        re.compile(
            r"```|\bdef \w+\(|\bfunction\b|\bimplement\b|\bwrite (?:a|the) (?:python|program|function|script|class)"
            r"|\brefactor\b|\bunit tests?\b|\bcompile|\bstack trace\b|\bbug\b|\bpython\b|\bjavascript\b|\brust\b"
        ),
    ),
    (
        FLAG_TOOL,
        re.compile(
            r"tool[_ ]call|function[_ ]call|use the (?:\w+ )?tool|available tools|<tool|\"tool_use\""
            r"|computer use|browse to|click (?:on|the)|terminal command|run the command"
        ),
    ),
    (
        FLAG_MATH,
        re.compile(
            r"how many|how much|calculate|solve (?:for|the)|equation|\bsum of\b|percent|\d+\s*[\+\-\*/x×]\s*\d+"
        ),
    ),
    (
        FLAG_REWRITE,
        re.compile(r"rewrite .{0,60}(?:safe|harmless|appropriate)|(?:safe|harmless) (?:version|rewrite)"),
    ),
)

_TOKEN = re.compile(r"[a-z0-9]+")
_BIT_WEIGHTS = np.array([1 << i for i in range(8)], dtype=np.uint8)


def content_flags(prompt: str | None, system_prompt: str | None = None) -> int:
    """Return the bitmask of content flags of a prompt and its system prompt."""
    flags = 0
    if prompt:
        text = prompt[:8000].lower()
        for flag, pattern in _PATTERNS:
            if pattern.search(text):
                flags |= flag
    if system_prompt and _PATTERNS[0][1].search(system_prompt[:8000].lower()):
        flags |= FLAG_SYS_COT
    return flags


def _features(text: str) -> list[bytes]:
    """Word unigrams and bigrams: templates with different fill-ins stay close."""
    words = _TOKEN.findall(text[:8000].lower())[:400]
    feats = [w.encode() for w in words]
    feats.extend(f"{a} {b}".encode() for a, b in zip(words, words[1:], strict=False))
    return feats


def simhash64(text: str) -> int:
    """Return the 64-bit SimHash of ``text`` (0 for text without words)."""
    feats = _features(text)
    if not feats:
        return 0
    digests = b"".join(blake2b(f, digest_size=8).digest() for f in feats)
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8).reshape(len(feats), 8), axis=1)
    votes = bits.sum(axis=0, dtype=np.int32) * 2 > len(feats)
    packed = np.packbits(votes.astype(np.uint8))
    return int.from_bytes(packed.tobytes(), "big")


def hamming64(a: int, b: int) -> int:
    """Return the Hamming distance between two 64-bit fingerprints."""
    return (a ^ b).bit_count()


def flag_names(flags: int) -> list[str]:
    """Return the names of the flags set in ``flags``."""
    return [name for bit, name in FLAG_NAMES.items() if flags & bit]
