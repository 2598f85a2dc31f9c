"""Prompt template families: benign chat, coding, agent steps, math, documents, CI jobs.

Every renderer takes a seeded :class:`random.Random` and returns one prompt. Harvest
templates live in :mod:`app.sim.harvest`.
"""

from __future__ import annotations

import random

from app.sim import words as w

_OPENERS = ("", "", "", "Hi! ", "Hey, ", "Quick question: ", "Please help: ", "I was wondering, ")


def chat(r: random.Random) -> str:
    """An ordinary chat question."""
    c = r.choice
    forms = (
        lambda: f"Can you explain {c(w.TOPICS)} in simple terms?",
        lambda: f"What are the main differences between {c(w.TOPICS)} and {c(w.TOPICS)}?",
        lambda: (
            f"Plan a {r.randint(2, 7)}-day trip to {c(w.CITIES)} for someone who likes {c(w.TOPICS)}."
        ),
        lambda: f"Give me a simple recipe for {c(w.FOODS)} for {r.randint(2, 8)} people.",
        lambda: (
            f"Help me write {c(w.THINGS)}. Keep it {c(('short', 'friendly', 'formal', 'funny'))}."
        ),
        lambda: (
            f"Translate this into {c(w.HUMAN_LANGS)}: 'I will be late for {c(w.THINGS)} tomorrow.'"
        ),
        lambda: f"What books would you recommend about {c(w.TOPICS)}?",
        lambda: f"Summarize the history of {c(w.TOPICS)} in a few paragraphs.",
        lambda: (
            f"I have a {c(w.SUBJECTS)} exam next week. What should I focus on about {c(w.TOPICS)}?"
        ),
        lambda: (
            f"Give me {r.randint(3, 12)} ideas for {c(w.THINGS)} with a budget of ${r.randint(20, 900)}."
        ),
        lambda: (
            f"Is it true that {c(w.TOPICS)} affects {c(w.TOPICS)}? My friend {c(w.NAMES)} says so."
        ),
        lambda: (
            f"Write a short poem about {c(w.TOPICS)} in the style of a {c(('haiku', 'sonnet', 'limerick'))}."
        ),
        lambda: f"Explain step by step how {c(w.TOPICS)} works, I keep getting confused.",
    )
    if r.random() < 0.04:  # ordinary requests that look like harvesting on the surface
        return c(_LOOKALIKES)(r)
    return c(_OPENERS) + c(forms)()


_LOOKALIKES = (
    lambda r: (
        f"Rewrite this email to my {r.choice(('landlord', 'boss', 'teacher', 'neighbour'))} so it sounds more appropriate: I am upset about {r.choice(w.THINGS)}."
    ),
    lambda r: (
        f"Grade this {r.choice(w.SUBJECTS)} essay on a scale of 1 to 10 using the rubric from my class: '{r.choice(w.TOPICS)} changed the world because...'"
    ),
    lambda r: (
        f"Which answer is better for my quiz about {r.choice(w.TOPICS)}, A or B? Explain your reasoning."
    ),
)


def followup(r: random.Random) -> str:
    """A later turn of a conversation."""
    c = r.choice
    forms = (
        lambda: "Can you make it shorter?",
        lambda: "Thanks! Can you give me an example?",
        lambda: f"What about {c(w.TOPICS)}?",
        lambda: f"Now rewrite it for {c(('a child', 'my boss', 'a teenager', 'an expert'))}.",
        lambda: "That doesn't look right, can you check it again?",
        lambda: f"Could you add something about {c(w.CITIES)}?",
        lambda: "Great, and what would be the next step?",
        lambda: f"Make it more {c(('formal', 'casual', 'detailed', 'persuasive'))} please.",
        lambda: "Why is that?",
        lambda: f"Can you turn this into a table with {r.randint(2, 6)} columns?",
    )
    return c(forms)()


def coding(r: random.Random) -> str:
    """A coding request from a developer."""
    c = r.choice
    lang = c(w.LANGS)
    forms = (
        lambda: f"Write a {lang} function that {c(w.CODE_TASKS)}.",
        lambda: f"My {lang} code that {c(w.CODE_TASKS)} fails with {c(w.ERRORS)}. How do I fix it?",
        lambda: f"Refactor this {lang} snippet so it {c(w.CODE_TASKS)}:\n```\n{_snippet(r)}\n```",
        lambda: f"Write unit tests for a {lang} module that {c(w.CODE_TASKS)}.",
        lambda: f"What is the idiomatic way in {lang} to handle {c(w.ERRORS)}?",
    )
    return c(forms)()


def _snippet(r: random.Random) -> str:
    name = r.choice(("load", "parse", "merge", "fetch", "update", "compute"))
    var = r.choice(("items", "rows", "data", "records", "values"))
    return f"def {name}_{var}({var}):\n    out = []\n    for x in {var}:\n        out.append(x * {r.randint(2, 9)})\n    return out"


def tool_step(r: random.Random) -> str:
    """One step of an agent loop: a tool result handed back to the model."""
    c = r.choice
    tool = c(w.TOOLS)
    forms = (
        lambda: (
            f'<tool_result name="{tool}">exit code {r.randint(0, 2)}, {r.randint(1, 400)} lines of output</tool_result>\nContinue with the task.'
        ),
        lambda: (
            f"Use the {tool} tool to check whether the module that {c(w.CODE_TASKS)} has tests."
        ),
        lambda: (
            f'<tool_result name="{tool}">{c(w.ERRORS)} at line {r.randint(3, 900)}</tool_result>\nFix it and run the tests again.'
        ),
        lambda: (
            f"The {tool} tool returned {r.randint(0, 50)} results for {c(w.TOPICS)}. Summarize them and decide the next tool call."
        ),
    )
    return c(forms)()


def math_problem(r: random.Random) -> str:
    """A grade-school math word problem (GSM8K-like)."""
    a, b, k = r.randint(3, 90), r.randint(2, 40), r.randint(2, 12)
    name, other, item = r.choice(w.NAMES), r.choice(w.NAMES), r.choice(w.ITEMS)
    forms = (
        f"{name} has {a} {item}. {other} gives {name} {b} more, and then {name} shares them equally among {k} friends. How many {item} does each friend get?",
        f"A shop sells {item} at ${b} each. {name} buys {a} of them and pays with ${a * b + k * 5}. How much change does {name} get?",
        f"{name} reads {b} pages a day for {k} days and then {a} pages on the last day. How many pages did {name} read in total?",
        f"A tank holds {a * 10} liters and loses {k} percent of its water every hour. How much water is left after {r.randint(2, 6)} hours?",
        f"{name} is {a} years old, which is {k} years more than twice {other}'s age. How old is {other}?",
    )
    return r.choice(forms)


def reasoning_task(r: random.Random) -> str:
    """A reasoning or knowledge question of the kind harvesting campaigns collect."""
    c = r.choice
    forms = (
        lambda: math_problem(r),
        lambda: (
            f"Prove that the sum of the first {r.randint(5, 99)} odd numbers is a perfect square."
        ),
        lambda: f"In {c(w.SUBJECTS)}, why does {c(w.TOPICS)} matter for {c(w.TOPICS)}?",
        lambda: (
            f"{c(w.NAMES)}, {c(w.NAMES)} and {c(w.NAMES)} each own one pet: a cat, a dog, a fish. Given {r.randint(2, 4)} clues, who owns the fish?"
        ),
        lambda: f"Write a {c(w.LANGS)} function that {c(w.CODE_TASKS)}.",
    )
    return c(forms)()


def document(r: random.Random) -> str:
    """A short business document an enterprise pipeline processes."""
    parts = [
        f"Ticket #{r.randint(100000, 999999)}: customer {r.choice(w.NAMES)} {r.choice(w.DOC_VERBS)} {r.choice(w.DOC_NOUNS)}"
    ]
    for _ in range(r.randint(1, 3)):
        parts.append(
            f"{r.choice(w.DOC_TAILS)} Also {r.choice(w.DOC_VERBS)} {r.choice(w.DOC_NOUNS)} on day {r.randint(1, 28)}."
        )
    return " ".join(parts)


def ci_job(r: random.Random) -> str:
    """A CI job asking for a review or release notes."""
    if r.random() < 0.5:
        return f"Review this diff and list risky changes:\n```diff\n- {_snippet(r)}\n+ # updated {r.randint(1, 999)}\n```"
    commits = "\n".join(
        f"- fix: {r.choice(w.ERRORS)} in {r.choice(w.TOOLS)}" for _ in range(r.randint(2, 6))
    )
    return f"Write release notes for version {r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 9)} from these commits:\n{commits}"


def persona_system(r: random.Random) -> str:
    """A user's own system prompt."""
    role = r.choice(
        ("a patient tutor", "a concise assistant", "a travel agent", "a fitness coach", "an editor")
    )
    return f"You are {role} for {r.choice(w.NAMES)}. Answer in {r.choice(('English', *w.HUMAN_LANGS))}. Keep answers {r.choice(('brief', 'friendly', 'precise'))}."
