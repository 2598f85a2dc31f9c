"""Helpers shared by unit tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")


def replaced(obj: T, **changes: Any) -> T:
    """A copy of one of the core's slotted plain classes (``Event``, ``AccountSignal``,
    ``Obs``, ``Profile``) with some fields changed: ``dataclasses.replace`` for classes
    that are not dataclasses."""
    fields = {name: getattr(obj, name) for name in type(obj).__slots__}  # type: ignore[attr-defined]
    return type(obj)(**{**fields, **changes})


def load_tool(name: str) -> ModuleType:
    """Import ``tools/<name>.py`` (the tools are scripts, not a package)."""
    path = Path(__file__).resolve().parents[2] / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def smoke_suite(directory: Path) -> tuple[Path, dict[str, Any], Path]:
    """The smoke scenario written to ``directory``: events file, truth, truth file."""
    import json

    from app.sim import generate, load_scenario
    from app.sim.output import write_jsonl

    events, truth = generate(load_scenario("smoke"))
    path = directory / "smoke.jsonl.gz"
    write_jsonl(events, path)
    truth_path = directory / "truth.json"
    truth_path.write_text(json.dumps(truth))
    return path, truth, truth_path
