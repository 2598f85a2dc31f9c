"""The feedback follower says when it has applied every verdict given before it started."""

from __future__ import annotations

import asyncio

import pytest

from app.findings.feedback import Verdict
from app.findings.policy import AlertPolicy
from app.metrics import Metrics
from app.settings import load_settings
from app.stream.feedback import follow_feedback
from tests.kafka_helpers import produce

pytestmark = pytest.mark.integration


def test_caught_up_is_set_only_after_every_earlier_verdict_is_applied(broker, unique) -> None:
    topic = f"feedback-{unique}"
    broker.create_topics([topic], partitions=3)
    targets = [f"acct-{unique}-{i}" for i in range(30)]
    produce(
        broker.bootstrap,
        topic,
        [(t.encode(), Verdict(t, "false_positive", "test").to_bytes()) for t in targets],
    )
    settings = load_settings(broker_url=broker.url, feedback_topic=topic)
    policy = AlertPolicy()

    def missing() -> list[str]:
        return [t for t in targets if policy.suppressions.match("account", t, 0.0) is None]

    class CaughtUp(asyncio.Event):
        """Records which verdicts were not applied yet at the moment it is set."""

        def set(self) -> None:
            self.missing_then = missing()
            super().set()

    async def run() -> list[str]:
        caught_up = CaughtUp()
        task = asyncio.create_task(
            follow_feedback(settings, policy, Metrics(), caught_up=caught_up)
        )
        try:
            await asyncio.wait_for(caught_up.wait(), 30)
            return caught_up.missing_then
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    assert asyncio.run(run()) == []
