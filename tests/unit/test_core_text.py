"""Content flags and the digest-keyed memo of derived text facts."""

from __future__ import annotations

import pytest

from app.core.text import (
    FLAG_CODE,
    FLAG_COT,
    FLAG_MATH,
    FLAG_SYS_COT,
    TextFacts,
    content_flags,
    simhash64,
    system_flags,
)


@pytest.mark.parametrize(
    ("text", "flag", "expected"),
    [
        ("please write a python function that parses dates", FLAG_CODE, True),
        ("i trust you to debug this", FLAG_CODE, False),  # "rust" and "bug" inside other words
        ("here is my bug report", FLAG_CODE, True),
        ("```\nx = 1\n```", FLAG_CODE, True),
        ("consum of the parts", FLAG_MATH, False),
        ("what is the sum of 3 and 4", FLAG_MATH, True),
        ("explain your reasoning step by step", FLAG_COT, True),
    ],
)
def test_content_flags_respect_word_starts(text: str, flag: int, expected: bool) -> None:
    assert bool(content_flags(text) & flag) is expected


def test_memo_gives_what_direct_derivation_gives() -> None:
    facts = TextFacts(size=4)
    texts = [f"Solve for x step by step: {i}x + 3 = {i * 7}" for i in range(10)]
    for _ in range(2):
        for text in texts:
            assert facts.prompt(text) == (simhash64(text), content_flags(text))
    system = "You are a helpful agent. Think step by step before you act."
    assert facts.system(system) == (simhash64(system), system_flags(system))
    assert system_flags(system) == FLAG_SYS_COT


def test_memo_is_bounded_and_keeps_no_text() -> None:
    facts = TextFacts(size=3)
    secret = "canary-7f3a private words of a customer"
    for i in range(10):
        facts.prompt(f"{secret} {i}")
    memo = facts._prompts
    assert len(memo) == 3
    assert all(isinstance(k, bytes) and len(k) == 16 for k in memo)
    assert all(b"canary" not in k for k in memo)
