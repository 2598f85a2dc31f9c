"""The worker's consumer (FastDrainConsumer): its fetch loop and its commit offsets."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from app.stream.transport import FastDrainConsumer

TOPIC = TP("api-events", 0)


class Record(SimpleNamespace):
    """The parts of a Faust message the fetch loop reads."""


def consumer(batches: list[list[int]]) -> tuple[Any, list[int]]:
    """A FastDrainConsumer with fake Faust plumbing: ``batches`` of offsets to fetch in turn."""
    c: Any = object.__new__(FastDrainConsumer)
    delivered: list[int] = []
    c._stopped, c._crashed = asyncio.Event(), asyncio.Event()
    c._read_offset = defaultdict(lambda: None)
    c._committed_offset = {}
    c._n_acked, c._commit_every = 0, None
    c.gaps = []
    c.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
    c.app = SimpleNamespace(
        topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
        flow_control=SimpleNamespace(is_active=lambda: True),
    )
    c.suspend_flow = asyncio.Event()
    c.transport = SimpleNamespace(app=SimpleNamespace(should_stop=True))

    async def sleep(n: float) -> None:
        await asyncio.sleep(0)

    async def getmany(timeout: float) -> Any:
        if not batches:
            c._stopped.set()
            return
        for offset in batches.pop(0):
            yield TOPIC, Record(offset=offset, topic=TOPIC.topic)

    async def add_gap(tp: TP, start: int, end: int) -> None:
        c.gaps.append((start, end))

    async def callback(message: Record) -> None:
        delivered.append(message.offset)

    c.sleep, c.getmany, c.callback = sleep, getmany, callback
    c._add_gap = add_gap
    return c, delivered


def test_records_already_read_are_dropped_and_the_rest_delivered_in_order() -> None:
    c, delivered = consumer([[0, 1, 2], [3, 4], [2, 3, 5]])
    asyncio.run(c._drain_messages(SimpleNamespace(_stopped=asyncio.Event())))
    assert delivered == [0, 1, 2, 3, 4, 5]  # 2 and 3 again: dropped as already read
    assert c._read_offset[TOPIC] == 5


def test_a_gap_in_offsets_is_marked() -> None:
    c, delivered = consumer([[0, 1], [5, 6]])
    asyncio.run(c._drain_messages(SimpleNamespace(_stopped=asyncio.Event())))
    assert delivered == [0, 1, 5, 6]
    assert c.gaps == [(2, 5)]


def test_an_offset_acked_twice_does_not_hold_the_commit_back() -> None:
    # A message delivered again and acked while a commit of it was in flight leaves its
    # offset twice in the acked list; Faust's run of consecutive offsets would stop there.
    c: Any = object.__new__(FastDrainConsumer)
    c._acked = {TOPIC: [290, 290, 291, 292, 292, 293, 295]}
    c._acked_index = {TOPIC: {290, 291, 292, 293, 295}}
    c._gap = defaultdict(list)  # no gaps (Faust keeps an IntervalTree per partition)
    c._committed_offset = {TOPIC: 290}
    assert c._new_offset(TOPIC) == 294  # up to the real gap at 294
    assert c._acked[TOPIC] == [295]


def test_the_app_keeps_only_the_monitor_state_faust_reads(tmp_path: Any) -> None:
    from app.settings import load_settings
    from app.stream.app import LeanMonitor, build_app

    app, _ = build_app(load_settings(data_dir=str(tmp_path)))
    monitor = app.monitor
    assert isinstance(monitor, LeanMonitor)
    monitor.on_stream_event_in(TOPIC, 7, None, None)
    monitor.on_message_in(TOPIC, 7, SimpleNamespace())
    monitor.on_stream_event_out(TOPIC, 7, None, None, None)
    monitor.on_message_out(TOPIC, 7, SimpleNamespace())
    # Faust's check for a stream that stopped taking events reads this; nothing else is kept.
    assert TOPIC in monitor.stream_inbound_time and monitor.tp_read_offsets[TOPIC] == 7
    assert monitor.events_total == monitor.messages_received_total == 0
    assert not monitor.events_by_stream and not monitor.events_runtime
