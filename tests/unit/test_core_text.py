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
    frame_fingerprints,
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
            expected = (simhash64(text), content_flags(text), *frame_fingerprints(text))
            assert facts.prompt(text) == expected
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


LEAD = "Reconstruct the full reasoning process an expert would follow for the task below."
TASKS = [
    "A train leaves the station at nine and travels at sixty miles an hour; how far has it gone by noon?",
    "Write a function that merges two sorted lists into one sorted list without using the sort builtin.",
]


def test_a_templates_prompts_share_the_end_its_fixed_words_are_at() -> None:
    lead_first = [frame_fingerprints(f"{LEAD}\n\n{task}") for task in TASKS]
    lead_last = [frame_fingerprints(f"Task: {task}\n{LEAD}") for task in TASKS]
    assert lead_first[0][0] == lead_first[1][0] != 0  # the same opening words
    assert lead_first[0][1] != lead_first[1][1]  # each its own task's closing words
    assert lead_last[0][1] == lead_last[1][1] != 0
    assert lead_last[0][0] != lead_last[1][0]
    assert lead_first[0][0] != lead_last[0][1]  # an opening and a closing never collide
    # whole-prompt SimHashes of the two fill-ins are far apart
    a, b = (simhash64(f"{LEAD}\n\n{task}") for task in TASKS)
    assert (a ^ b).bit_count() > 8


def test_a_prompt_without_room_for_a_slot_has_no_frame() -> None:
    assert frame_fingerprints("Write unit tests for a Kotlin module that computes an average.") == (
        0,
        0,
    )
    assert frame_fingerprints("") == (0, 0)
    assert frame_fingerprints(TASKS[0] + " " + TASKS[1]) != (0, 0)


def test_a_long_prompt_without_words_at_its_ends_has_no_frame() -> None:
    # Text the word pattern does not read (another script, a blob of symbols) at either
    # end would give every such prompt one frame.
    assert frame_fingerprints("你好世界 " * 400) == (0, 0)
    assert frame_fingerprints("你好 " * 300 + TASKS[0]) == (0, 0)


def test_a_long_prompts_frame_is_read_at_its_two_ends() -> None:
    middle = " ".join(f"word{i}" for i in range(2000))
    head, tail = frame_fingerprints(f"{LEAD} {middle} {TASKS[0]}")
    other = frame_fingerprints(f"{LEAD} {middle.upper()} filler {TASKS[0]}")
    assert (head, tail) == other  # case and the middle do not matter
    other_task = frame_fingerprints(f"{LEAD} {middle} {TASKS[1]}")
    assert other_task[0] == head and other_task[1] != tail
