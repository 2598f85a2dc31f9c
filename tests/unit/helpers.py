"""Helpers shared by unit tests."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def replaced(obj: T, **changes: Any) -> T:
    """A copy of one of the core's slotted plain classes (``Event``, ``AccountSignal``,
    ``Obs``, ``Profile``) with some fields changed: ``dataclasses.replace`` for classes
    that are not dataclasses."""
    fields = {name: getattr(obj, name) for name in type(obj).__slots__}  # type: ignore[attr-defined]
    return type(obj)(**{**fields, **changes})
