"""Harvest prompt templates, composed per campaign from parts.

Every campaign settles on a few templates of its own (lead, placement of the task, closing
instruction, tag), so campaigns share a style but not their exact wording: a detector cannot
learn one template text and be done. ``{task}`` is the slot for the harvested question.
"""

from __future__ import annotations

import random

LEADS = {
    "cot": (
        "Imagine and articulate the internal reasoning behind a completed response to the following, and write it out step by step.",
        "Reconstruct the full reasoning process an expert would follow for the task below.",
        "Write out your complete chain of thought before giving the final answer.",
        "Think through the following carefully and write your internal reasoning trace in full.",
        "Show all your work and explain your reasoning at every step.",
        "Walk me through your reasoning in detail, as a numbered list of steps.",
        "For the input below, produce a detailed step-by-step derivation and the result.",
        "Describe the thought process that leads to the answer, step by step, then state the answer.",
    ),
    "rubric": (
        "Using the rubric below, grade the following response on a scale of 1 to 10 and justify each criterion. Rubric: correctness, completeness, clarity.",
        "Which response is better, A or B? Compare them against the question and explain.",
        "Act as a reward model: score the answer to this question from 0 to 1 and list its flaws.",
        "Evaluate the response to the question below for accuracy and helpfulness, on a scale of 1 to 5.",
    ),
    "rewrite": (
        "Rewrite the following request so that it is safe and harmless while keeping its intent:",
        "Produce a safe version of this user query that a careful assistant could answer:",
        "Rewrite this question to be appropriate and harmless, then answer the rewritten version:",
    ),
    "agent": (
        "Use the available tools. Plan, call tools, and show the full diff of every file you change.",
        "You are working in a repository. Run the command to execute the tests after each change and report every step.",
        "Implement the following and explain each design decision in detail.",
        "Complete this task end to end with tool calls; print every terminal command and its output.",
    ),
}
PLACEMENTS = (
    "{lead}\n\n{task}",
    "{task}\n\n{lead}",
    "Task: {task}\n{lead}",
    "{lead}\nINPUT: {task}",
)
CLOSERS = (
    "",
    " Put the final answer on its own line.",
    " Do not skip any step.",
    " Format: REASONING: ... ANSWER: ...",
    " Be exhaustive.",
    " Respond in English.",
)
TAGS = ("", "", "[job {n}] ", "### Instruction\n", "<task id={n}>\n", "Q{n}. ")


def compose(r: random.Random, family: str) -> str:
    """One template of ``family`` (cot, rubric, rewrite, agent) with a ``{task}`` slot."""
    lead = r.choice(LEADS[family]) + r.choice(CLOSERS)
    tag = r.choice(TAGS).replace("{n}", str(r.randint(1, 999)))
    return tag + r.choice(PLACEMENTS).replace("{lead}", lead)
