"""Shared fixtures: the embedded broker for integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from app.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One embedded Kafka-compatible broker for the whole session; skips if it cannot start."""
    embedded = EmbeddedBroker()
    try:
        embedded.start()
    except Exception as exc:  # no binary for this platform, port trouble, ...
        pytest.skip(f"embedded broker unavailable: {exc}")
    yield embedded
    embedded.stop()


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic names and app ids, so tests never share state."""
    return uuid.uuid4().hex[:10]
