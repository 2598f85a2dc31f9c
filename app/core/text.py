"""Derive privacy-safe fingerprints and content flags from raw prompt text.

Raw text goes in, only a 64-bit SimHash and a small bitmask of content flags come out;
callers drop the text right after.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from hashlib import blake2b
from typing import Final, TypeVar

import numpy as np

# Content flags (bitmask). Prompt-level flags describe the user prompt, SYS_* the system prompt.
FLAG_COT: Final = 1 << 0  # elicits step-by-step / internal reasoning written out
FLAG_RUBRIC: Final = 1 << 1  # grading / rubric / reward-model style
FLAG_CODE: Final = 1 << 2  # asks for code
FLAG_TOOL: Final = 1 << 3  # tool use / function calling / agentic
FLAG_MATH: Final = 1 << 4  # math word problem / calculation
FLAG_REWRITE: Final = 1 << 5  # "safe" rewrite of a sensitive query
# the system prompt asks for step-by-step thinking (benign frameworks do)
FLAG_SYS_COT: Final = 1 << 8
# the user prompt's text was read, so its content flags are known; an event with a
# fingerprint and no text (a gateway that sends prompt_fp only) has no content flags
# because its content is unknown, not because it asks for nothing
FLAG_READ: Final = 1 << 9

HARVEST_FLAGS: Final = FLAG_COT | FLAG_RUBRIC | FLAG_REWRITE

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
        # Word starts are checked after a match (see _WORD_START): a pattern that opens with
        # \b defeats the regex engine's first-character scan and costs ten times as much.
        re.compile(
            r"```|def \w+\(|function\b|implement\b|write (?:a|the) (?:python|program|function|script|class)"
            r"|refactor\b|unit tests?\b|compile|stack trace\b|bug\b|python\b|javascript\b|rust\b"
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
            r"how many|how much|calculate|solve (?:for|the)|equation|sum of\b|percent|\d+\s*[\+\-\*/x×]\s*\d+"
        ),
    ),
    (
        FLAG_REWRITE,
        re.compile(
            r"rewrite .{0,60}(?:safe|harmless|appropriate)|(?:safe|harmless) (?:version|rewrite)"
        ),
    ),
)

_TOKEN = re.compile(r"[a-z0-9]+")
_BIT_WEIGHTS = np.array([1 << i for i in range(8)], dtype=np.uint8)


_WORD_GUARDED: Final = FLAG_CODE | FLAG_MATH  # alternatives that must start a word
_MEMO_SIZE: Final = 8192  # derived facts of this many distinct texts are remembered


def _found(flag: int, pattern: re.Pattern[str], text: str) -> bool:
    if not flag & _WORD_GUARDED:
        return pattern.search(text) is not None
    for match in pattern.finditer(text):
        i = match.start()
        if i == 0 or not text[i].isalnum() or not text[i - 1].isalnum():
            return True
    return False


def prompt_flags(prompt: str | None) -> int:
    """Return the bitmask of prompt-level content flags of ``prompt``."""
    flags = 0
    if prompt:
        text = prompt[:8000].lower()
        for flag, pattern in _PATTERNS:
            if _found(flag, pattern, text):
                flags |= flag
    return flags


def system_flags(system_prompt: str | None) -> int:
    """Return FLAG_SYS_COT if the system prompt asks for step-by-step thinking, else 0."""
    if system_prompt and _PATTERNS[0][1].search(system_prompt[:8000].lower()):
        return FLAG_SYS_COT
    return 0


def content_flags(prompt: str | None, system_prompt: str | None = None) -> int:
    """Return the bitmask of content flags of a prompt and its system prompt."""
    return prompt_flags(prompt) | system_flags(system_prompt)


# Words at each end of a prompt that make its frame (``frame_fingerprints``).
FRAME_WORDS: Final = 8
_FRAME_CHARS: Final = 512  # a frame's words are read from this many characters at each end


def frame_fingerprints(text: str) -> tuple[int, int]:
    """Return 64-bit fingerprints of the first and of the last ``FRAME_WORDS`` words of a
    prompt, (0, 0) for a prompt of fewer than three times that many words.

    A template wraps a slot in fixed words placed before it, after it or both, so prompts
    of one template share their opening or their closing words while the filled-in task
    makes their whole-prompt SimHashes drift apart (a task as long as the template leaves
    them about 20 of 64 bits apart, too far for any band to match). A prompt that its two
    ends nearly cover has no slot: its frame would only be the prompt itself, and the
    crowd that sends one popular question word for word is no template's.
    """
    if len(text) <= 2 * _FRAME_CHARS:
        words = _TOKEN.findall(text.lower())
        if len(words) < 3 * FRAME_WORDS:
            return 0, 0
        head, tail = words[:FRAME_WORDS], words[-FRAME_WORDS:]
    else:  # only the two ends are read (an event's text may run to its size limit)
        head = _TOKEN.findall(text[:_FRAME_CHARS].lower())[:FRAME_WORDS]
        tail = _TOKEN.findall(text[-_FRAME_CHARS:].lower())[-FRAME_WORDS:]
        if len(head) < FRAME_WORDS or len(tail) < FRAME_WORDS:
            return 0, 0  # ends of few words (of a script without them): no frame to share
    return _words_fp(head, b"head"), _words_fp(tail, b"tail")


def _words_fp(words: list[str], end: bytes) -> int:
    digest = blake2b(" ".join(words).encode(), digest_size=8, person=end).digest()
    return int.from_bytes(digest, "big") or 1


_Facts = TypeVar("_Facts")


class TextFacts:
    """SimHash and flags of texts, remembered by a digest of the text (never the text).

    System prompts and templated prompts repeat across many requests; deriving their facts
    once saves most of the decoding cost. Only a 16-byte BLAKE2b digest of each text is kept
    as the key, so the memo holds no prompt text. Oldest entries go first past ``size``.
    """

    def __init__(self, size: int = _MEMO_SIZE) -> None:
        self.size = size
        self._prompts: dict[bytes, tuple[int, int, int, int]] = {}
        self._systems: dict[bytes, tuple[int, int]] = {}

    def prompt(self, text: str) -> tuple[int, int, int, int]:
        """(SimHash, prompt flags, head and tail fingerprints) of a user prompt."""
        return self._get(self._prompts, text, _prompt_facts)

    def system(self, text: str) -> tuple[int, int]:
        """(SimHash, system flags) of a system prompt."""
        return self._get(self._systems, text, _system_facts)

    def _get(self, memo: dict[bytes, _Facts], text: str, derive: Callable[[str], _Facts]) -> _Facts:
        key = blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        facts = memo.get(key)
        if facts is None:
            facts = derive(text)
            if len(memo) >= self.size:
                del memo[next(iter(memo))]
            memo[key] = facts
        return facts


def _prompt_facts(text: str) -> tuple[int, int, int, int]:
    head, tail = frame_fingerprints(text)
    return simhash64(text), prompt_flags(text), head, tail


def _system_facts(text: str) -> tuple[int, int]:
    return simhash64(text), system_flags(text)


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


# ``int.bit_count`` called as a function: compiled, ``x.bit_count()`` looks the method up
# on every call, and fingerprints are compared on every signal of every group.
popcount: Final = int.bit_count
