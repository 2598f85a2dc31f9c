"""A worker that stops, for any reason, says so on /ready and exits within its shutdown
timeout; a rebalance's revocation makes it not ready until the next assignment."""

from __future__ import annotations

import asyncio
import threading

import pytest

import app.stream.worker as worker_module
from app.settings import load_settings
from app.stream.worker import BoundedShutdownWorker, DetectorWorker


@pytest.fixture
def detector(tmp_path) -> DetectorWorker:
    return DetectorWorker(load_settings(data_dir=str(tmp_path), metrics_port=0))


def test_ready_follows_the_assignment_and_the_stop(detector) -> None:
    app = detector.app
    assert not detector.ready(), "not ready before the group assigns partitions"
    asyncio.run(app.on_partitions_assigned.send(set()))
    assert detector.ready() and detector.metrics.ready._value.get() == 1
    asyncio.run(app.on_partitions_revoked.send(set()))
    assert not detector.ready() and detector.metrics.ready._value.get() == 0
    asyncio.run(app.on_partitions_assigned.send(set()))
    assert detector.ready()
    app._crashed.set()  # a crash: the worker is on its way out
    assert not detector.ready()


def test_a_stop_after_a_crash_is_bounded_by_the_watchdog(detector, monkeypatch) -> None:
    exited = threading.Event()
    codes: list[int] = []

    def _exit(code: int) -> None:
        codes.append(code)
        exited.set()

    monkeypatch.setattr(worker_module.os, "_exit", _exit)
    worker = BoundedShutdownWorker(detector.app, quiet=True, shutdown_timeout=0.2)
    worker.on_worker_shutdown()  # what Faust calls once its start returns, crash or not
    worker.on_worker_shutdown()  # a second call starts no second watchdog
    assert exited.wait(5), "the watchdog ended the stop"
    assert codes == [1]
