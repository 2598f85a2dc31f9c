"""Shared system prompts and evaluation prompt formats."""

from __future__ import annotations

import random

# Popular open-source agent frameworks: thousands of unrelated accounts send these verbatim.
FRAMEWORK_SYSTEMS = (
    "You are a helpful assistant built with the OpenAgents framework. Think step by step before "
    "answering. When a tool is needed, call it using the available tools and wait for its result "
    "before continuing. Never invent tool output.",
    "You are AutoPilot, a general-purpose agent. Break every request into small steps, think step "
    "by step, and use tools when they help. Reply in Markdown.",
    "You are a research assistant powered by TaskWeaver. Plan first, then act. Cite your sources "
    "and keep a short scratchpad of your thought process.",
)
# Coding tools whose users (power users) all send the tool's own system prompt.
CODING_TOOL_SYSTEMS = (
    "You are an interactive command-line tool that helps users with software engineering tasks. "
    "Use the tools available to you to read, edit and run code in the user's repository.",
    "You are an AI pair programmer inside the editor. Suggest minimal, correct edits and explain "
    "them briefly. Use the provided tools for file access.",
)
EVAL_MATH_FORMATS = (
    "Question: {task}\nLet's think step by step.",
    "Q: {task}\nA: Let's think step by step.",
    "Solve the following grade-school math problem. Answer with a number only.\n{task}",
)
EVAL_CODE_FORMATS = (
    "Complete the following Python function. Return only code.\n\n{task}",
    "{task}\n# Complete the function body.",
)


def enterprise_system(r: random.Random, org: str) -> str:
    """The system prompt of one enterprise pipeline."""
    job = r.choice(
        (
            "support triage",
            "invoice extraction",
            "claims review",
            "product catalog",
            "contract review",
        )
    )
    return (
        f"You are the {job} service of {org}. Follow the output schema exactly. Output JSON only."
    )


def enterprise_template(r: random.Random) -> str:
    """The one user-prompt template of an enterprise pipeline (``{doc}`` is the document)."""
    return r.choice(
        (
            "Summarize the following customer ticket in three bullet points and classify its urgency as low, medium or high.\n\n{doc}",
            "Extract the customer name, the product, and the requested action from this message as JSON.\n\n{doc}",
            "Classify the sentiment of the following message and suggest a reply.\n\n{doc}",
            "Translate the following support message into English and tag its topic.\n\n{doc}",
        )
    )


def harness_system(r: random.Random) -> str:
    """A campaign's own agent-harness system prompt."""
    return (
        f"You are agent #{r.randint(1, 99)} in an automated pipeline. Complete the coding task end to end. "
        f"Always use tools, write full files, and print the complete reasoning for each action. "
        f"Output format v{r.randint(1, 9)}."
    )


def humaneval_task(r: random.Random) -> str:
    """A HumanEval-like function stub."""
    name = r.choice(
        ("below_zero", "sort_third", "count_vowels", "is_prime", "sum_squares", "fizz_buzz")
    )
    arg = r.choice(("numbers: list", "n: int", "s: str", "lst: list"))
    return f'def {name}_{r.randint(1, 500)}({arg}):\n    """Return the result described in the task. >>> {name}(...)\n    """\n'
