"""Prompt families: harvest templates carry harvest-shaped content, benign chat mostly does not."""

from __future__ import annotations

import random

import pytest

from app.core.text import (
    FLAG_COT,
    FLAG_REWRITE,
    FLAG_RUBRIC,
    FLAG_TOOL,
    HARVEST_FLAGS,
    content_flags,
)
from app.errors import InputFileError
from app.sim import prompts, systems
from app.sim.harvest import LEADS, compose
from app.sim.textbank import TextBank, load_prompts


@pytest.mark.parametrize(
    ("family", "flag"), [("cot", FLAG_COT), ("rubric", FLAG_RUBRIC), ("rewrite", FLAG_REWRITE)]
)
def test_every_composed_harvest_template_raises_its_content_flag(family: str, flag: int) -> None:
    r = random.Random(3)
    for _ in range(300):
        template = compose(r, family)
        assert "{task}" in template
        assert (
            content_flags(template.format(task="A train leaves at 3 pm. When does it arrive?"))
            & flag
        ), template


def test_agent_templates_mostly_ask_for_tools() -> None:
    r = random.Random(5)
    flagged = [
        bool(content_flags(compose(r, "agent").format(task="fix the parser")) & FLAG_TOOL)
        for _ in range(200)
    ]
    assert 0.5 < sum(flagged) / len(flagged) < 1.0


def test_campaigns_get_different_templates() -> None:
    many = {compose(random.Random(i), "cot") for i in range(200)}
    assert len(many) > 150
    assert len(LEADS["cot"]) >= 6


def test_benign_chat_is_rarely_harvest_shaped() -> None:
    r = random.Random(7)
    texts = [prompts.chat(r) for _ in range(2000)]
    share = sum(bool(content_flags(t) & HARVEST_FLAGS) for t in texts) / len(texts)
    assert 0.0 < share < 0.15  # some people do ask for step by step explanations
    for flag in (FLAG_RUBRIC, FLAG_REWRITE):  # teachers grade essays, people soften emails
        assert 0.0 < sum(bool(content_flags(t) & flag) for t in texts) / len(texts) < 0.05


def test_the_big_framework_system_prompt_asks_to_think_step_by_step() -> None:
    from app.core.text import FLAG_SYS_COT

    assert content_flags("hello", systems.FRAMEWORK_SYSTEMS[0]) & FLAG_SYS_COT


def test_text_bank_deduplicates_and_caches_fingerprints() -> None:
    bank = TextBank(1)
    a, b = bank.add("same text"), bank.add("same text")
    assert a == b and len(bank.texts) == 1
    assert bank.fingerprint(a) == bank.fingerprint(a) and len(bank.fingerprint(a)) == 16


def test_load_prompts_reads_prompt_or_question(tmp_path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"question": "What is 2+2?"}\n\n{"prompt": "Write a haiku"}\n')
    assert load_prompts(path) == ["What is 2+2?", "Write a haiku"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no field"}\n')
    with pytest.raises(InputFileError, match="bad.jsonl:1"):
        load_prompts(bad)
    with pytest.raises(InputFileError, match="cannot read"):
        load_prompts(tmp_path / "missing.jsonl")
