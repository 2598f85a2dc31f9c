"""Signals of the keys a worker owns are observed where they are made; the rest travel.

The signal topic is co-partitioned with the events: a worker observes the keys of its own
signal partitions in the batch that made them and sends only the others' keys to the
topic; findings close behind the signal topic's backlog only while one waits there.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from app.stream.pipeline import Record
from app.stream.state import CheckpointedEngine
from tests.unit.test_worker_checkpoint import T0, Producer, _worker


class Recorder(Producer):
    """A producer that also keeps the topic of every send."""

    def __init__(self) -> None:
        super().__init__([False])
        self.topics: list[str] = []

    async def send(self, topic: str, key: Any, value: bytes, *rest: Any) -> asyncio.Future[None]:
        self.topics.append(topic)
        return await super().send(topic, key, value, *rest)


def _events(n: int = 12) -> list[Record]:
    """``n`` accounts' first requests from one /24 with one client stack: shared keys."""
    return [
        Record(
            f"acct-{i}".encode(),
            orjson.dumps(
                {
                    "event_id": f"e{i}",
                    "ts": T0 + i,
                    "account_id": f"acct-{i}",
                    "model": "m",
                    "prompt_tokens": 100,
                    "completion_tokens": 400,
                    "ip": f"10.1.2.{i}",
                    "user_agent": "python-httpx/0.27",
                    "tls_fp": "t13d1516h2_aaaa_bbbb",
                    "asn": 64500,
                }
            ),
            "api-events",
            0,
            i,
        )  # fmt: skip
        for i in range(n)
    ]


def _ready(tmp_path, local: frozenset[int]):
    worker, _, _ = _worker(tmp_path, [False])
    worker.stage = worker.pipeline.stage = CheckpointedEngine(worker.engine, None)
    producer = worker.app.producer = Recorder()
    worker.feedback_caught_up.set()
    worker._local_signals = local
    return worker, producer


def test_a_worker_owning_every_partition_observes_its_signals_and_sends_none(tmp_path) -> None:
    worker, producer = _ready(tmp_path, frozenset(range(4)))
    out = asyncio.run(worker.handle_batch(_events()))
    assert out.signals, "the accounts' first requests signal"
    assert worker._topic_names["signals"] not in producer.topics
    assert worker.engine.coordination.groups_tracked() >= 1, "observed in the batch"


def test_a_worker_owning_no_partition_sends_every_signal_to_the_topic(tmp_path) -> None:
    worker, producer = _ready(tmp_path, frozenset())
    out = asyncio.run(worker.handle_batch(_events()))
    assert out.signal_messages
    assert producer.topics.count(worker._topic_names["signals"]) == len(out.signal_messages)
    assert worker.engine.coordination.groups_tracked() == 0, "left to the owners"


def test_findings_close_behind_the_signal_topic_only_while_signals_wait_there(tmp_path) -> None:
    worker, _ = _ready(tmp_path, frozenset(range(4)))
    worker.watermark.advance({0: T0 + 7200}, 0.0)
    worker.signal_watermark.advance({1: T0 + 60}, 0.0)
    worker._signals_waiting = lambda: False
    assert worker.close_watermark(0.0) == T0 + 7200, "nothing waits: the events' clock"
    worker._signals_waiting = lambda: True
    assert worker.close_watermark(0.0) == T0 + 60, "held to what was read from the topic"
