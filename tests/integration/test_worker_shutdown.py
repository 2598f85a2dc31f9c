"""A worker told to stop while its broker is gone still exits, within its shutdown timeout."""

from __future__ import annotations

import time
import uuid

import pytest

from app.broker import EmbeddedBroker
from app.stream.process import WorkerProcess

pytestmark = pytest.mark.integration
TIMEOUT_S = 5.0


def test_sigterm_with_the_broker_gone_exits_within_the_shutdown_timeout(tmp_path) -> None:
    unique = uuid.uuid4().hex[:8]
    with EmbeddedBroker() as broker:
        worker = WorkerProcess(
            broker.url,
            f"test-shutdown-{unique}",
            env={
                "ABUSE_EVENTS_TOPIC": f"events-{unique}",
                "ABUSE_SHUTDOWN_TIMEOUT_SECONDS": str(TIMEOUT_S),
            },
            log_path=tmp_path / "worker.log",
        ).start()
        try:
            worker.wait_ready(90)
            broker.stop()  # SIGTERM, then SIGKILL: the broker is gone for good
            assert worker.alive()
            assert worker.proc is not None
            started = time.monotonic()
            worker.proc.terminate()
            code = worker.proc.wait(TIMEOUT_S + 20)
            took = time.monotonic() - started
        finally:
            worker.stop(5)
    log = (tmp_path / "worker.log").read_text()
    print(f"\nexit code {code} {took:.1f} s after SIGTERM with the broker gone")
    assert took <= TIMEOUT_S + 10
    if code != 0:  # the graceful stop hung: the watchdog ended it, and said so
        assert "did not finish within" in log
