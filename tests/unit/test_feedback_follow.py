"""The feedback follower rides out a broker it cannot reach: it retries, it never raises."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.broker import free_port
from app.findings.policy import AlertPolicy
from app.metrics import Metrics
from app.settings import load_settings
from app.stream.feedback import follow_feedback


def test_an_unreachable_broker_is_retried_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on this port: every bootstrap fails at once.
    settings = load_settings(broker_url=f"kafka://127.0.0.1:{free_port()}")

    async def run() -> None:
        task = asyncio.create_task(
            follow_feedback(settings, AlertPolicy(), Metrics(), retry_s=0.1, max_retry_s=0.2)
        )
        await asyncio.sleep(2.0)
        still_running = not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert still_running, "the follower gave up (or raised) instead of retrying"

    with caplog.at_level(logging.WARNING, logger="app.stream.feedback"):
        asyncio.run(run())
    retries = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(retries) >= 3, [r.getMessage() for r in caplog.records]
