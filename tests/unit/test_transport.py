"""The worker's consumer (FastDrainConsumer): its batch lane, its per-message path and its
commit offsets, on a real (unstarted) consumer of the worker's app with a scripted fetch."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from app.settings import load_settings
from app.stream.app import build_app
from app.stream.transport import FastDrainConsumer

EVENTS = TP("api-events", 0)
OTHER = TP("some-changelog", 0)


def record(tp: TP, offset: int) -> SimpleNamespace:
    """The parts of an aiokafka ConsumerRecord the consumer and the worker read."""
    return SimpleNamespace(
        topic=tp.topic, partition=tp.partition, offset=offset, key=b"k", value=b"v",
        timestamp=0, timestamp_type=0, headers=[], checksum=None,
        serialized_key_size=1, serialized_value_size=1,
    )  # fmt: skip


class Harness:
    """A FastDrainConsumer whose fetches return ``fetches`` in turn, then stop it."""

    def __init__(self, tmp_path: Any, fetches: list[dict[TP, list[int]]]) -> None:
        app, _ = build_app(load_settings(data_dir=str(tmp_path)))
        self.consumer: Any = app.consumer
        assert isinstance(self.consumer, FastDrainConsumer)
        self.batches: list[list[tuple[str, int, int]]] = []
        self.messages: list[int] = []
        self.seeks: list[Any] = []
        self.committed: dict[TP, int] = {}  # what the group committed, per partition
        self.assigned = {EVENTS, TP("api-events", 1), OTHER}
        self.during_handler: Any = None  # called inside the handler, e.g. a rebalance
        self.fail = False
        c = self.consumer
        app.batch_handlers[EVENTS.topic] = self.handler
        c.app.topics._acking_topics.update({EVENTS.topic, OTHER.topic})
        c.callback = self.callback
        app.flow_control.resume()  # as a started worker's: not suspended

        async def wait_next_records(timeout: float) -> Any:
            if not fetches:
                c._stopped.set()
                return {}, None
            return {tp: [record(tp, o) for o in offs] for tp, offs in fetches.pop(0).items()}, None

        async def perform_seek() -> None:
            self.seeks.append("all")

        async def seek_to_committed(*tps: TP) -> dict[TP, int | None]:
            self.seeks.extend(("committed", tp) for tp in tps)
            return {tp: self.committed.get(tp) for tp in tps}

        async def seek_to_beginning(*tps: TP) -> None:
            self.seeks.extend(("beginning", tp) for tp in tps)

        async def call_thread(fun: Any, *args: Any) -> Any:
            return await fun(*args)

        client = SimpleNamespace(
            seek_to_committed=seek_to_committed, seek_to_beginning=seek_to_beginning
        )
        c._wait_next_records = wait_next_records
        c.perform_seek = perform_seek
        c._thread = SimpleNamespace(_ensure_consumer=lambda: client, call_thread=call_thread)
        c.assignment = lambda: self.assigned
        c.highwater = lambda tp: 100

    async def handler(self, records: list[Any]) -> None:
        self.batches.append([(r.topic, r.partition, r.offset) for r in records])
        if self.during_handler:
            await self.during_handler()
        if self.fail:
            raise RuntimeError("publish failed")

    async def callback(self, message: Any) -> None:
        self.messages.append(message.offset)

    def run(self) -> None:
        asyncio.run(self.consumer._drain_messages(SimpleNamespace(_stopped=asyncio.Event())))


def test_each_fetch_reaches_the_handler_in_one_call_and_is_acked_after_it(tmp_path: Any) -> None:
    e1 = TP("api-events", 1)
    h = Harness(tmp_path, [{EVENTS: [0, 1, 2], e1: [0, 1]}, {EVENTS: [3, 4]}, {EVENTS: [2, 3, 5]}])
    h.run()
    assert h.batches == [
        [("api-events", 0, 0), ("api-events", 0, 1), ("api-events", 0, 2),
         ("api-events", 1, 0), ("api-events", 1, 1)],
        [("api-events", 0, 3), ("api-events", 0, 4)],
        [("api-events", 0, 5)],  # 2 and 3 again (before the read offset): dropped
    ]  # fmt: skip
    c = h.consumer
    assert c._read_offset[EVENTS] == 5 and c._read_offset[e1] == 1
    assert c._new_offset(EVENTS) == 6 and c._new_offset(e1) == 2
    assert c.app.monitor.stream_inbound_time[EVENTS] > 0  # Faust's stalled-stream check
    assert not h.seeks and not h.messages


def test_offsets_missing_between_fetches_are_acked_as_a_gap(tmp_path: Any) -> None:
    h = Harness(tmp_path, [{EVENTS: [0, 1]}, {EVENTS: [5, 6]}])
    h.run()
    assert [len(b) for b in h.batches] == [2, 2]
    assert h.consumer._new_offset(EVENTS) == 7  # 2-4 do not exist (compacted): no hole


def test_a_batch_whose_handler_fails_is_not_acked_and_stops_the_fetch(tmp_path: Any) -> None:
    h = Harness(tmp_path, [{EVENTS: [0, 1]}, {EVENTS: [2]}])
    h.fail = True
    with pytest.raises(RuntimeError, match="publish failed"):
        h.run()
    assert len(h.batches) == 1
    assert h.consumer._new_offset(EVENTS) is None  # nothing to commit: read again


def test_a_batch_that_a_rebalance_overtakes_is_read_again(tmp_path: Any) -> None:
    e1, e2 = TP("api-events", 1), TP("api-events", 2)
    h = Harness(tmp_path, [{EVENTS: [0, 1], e1: [7], e2: [3]}, {EVENTS: [2]}])
    h.committed = {EVENTS: 0, e1: 5}
    h.assigned = {EVENTS, e1, OTHER}  # e2 went to another worker
    c = h.consumer

    async def rebalance() -> None:
        if len(h.batches) == 1:
            c._revocations += 1  # what on_partitions_revoked records

    h.during_handler = rebalance
    h.run()
    assert len(h.batches) == 2
    # Only the batch's partitions still assigned, back to what the group committed (the
    # beginning where nothing is): never every partition, which would move the changelogs
    # table recovery reads.
    assert h.seeks == [("committed", EVENTS), ("committed", e1), ("beginning", EVENTS)]
    assert c._acked[EVENTS] == [2] and not c._acked[e1]  # the first batch is not acked
    assert c._read_offset[e1] == 5


def test_records_fetched_across_a_rebalance_are_not_handled(tmp_path: Any) -> None:
    h = Harness(tmp_path, [{EVENTS: [0, 1], OTHER: [0, 1]}, {EVENTS: [0, 1, 2]}])
    c = h.consumer
    fetch = c._wait_next_records

    async def fetch_during_a_rebalance(timeout: float) -> Any:
        got = await fetch(timeout)
        if not h.seeks:
            c._revocations += 1
        return got

    c._wait_next_records = fetch_during_a_rebalance
    h.run()
    assert h.batches == [[("api-events", 0, o) for o in (0, 1, 2)]]  # read again, once
    assert h.messages == [0, 1]  # a changelog's records still reach table recovery
    assert h.seeks == [("committed", EVENTS), ("beginning", EVENTS)]
    assert c._new_offset(EVENTS) == 3


def test_other_topics_go_message_by_message_through_faust(tmp_path: Any) -> None:
    h = Harness(tmp_path, [{OTHER: [0, 1, 2]}, {OTHER: [1, 2, 3]}])
    h.run()
    assert h.messages == [0, 1, 2, 2, 3]  # Faust delivers an offset equal to the read one
    assert not h.batches and h.consumer._read_offset[OTHER] == 3


def test_an_offset_acked_twice_does_not_hold_the_commit_back() -> None:
    # A message delivered again and acked while a commit of it was in flight leaves its
    # offset twice in the acked list; Faust's run of consecutive offsets would stop there.
    c: Any = object.__new__(FastDrainConsumer)
    c._acked = {EVENTS: [290, 290, 291, 292, 292, 293, 295]}
    c._acked_index = {EVENTS: {290, 291, 292, 293, 295}}
    c._gap = defaultdict(list)  # no gaps (Faust keeps an IntervalTree per partition)
    c._committed_offset = {EVENTS: 290}
    assert c._new_offset(EVENTS) == 294  # up to the real gap at 294
    assert c._acked[EVENTS] == [295]


def test_one_run_of_acked_offsets_commits_to_its_end_unless_a_hole_precedes_it() -> None:
    c: Any = object.__new__(FastDrainConsumer)
    c._gap = defaultdict(list)
    c._acked = {EVENTS: list(range(100, 200))}
    c._acked_index = {EVENTS: set(range(100, 200))}
    c._committed_offset = {EVENTS: 50}
    assert c._new_offset(EVENTS) is None  # 51-99 not acked yet
    c._committed_offset = {EVENTS: 100}
    assert c._new_offset(EVENTS) == 200
    assert c._acked[EVENTS] == [] and c._acked_index[EVENTS] == set()


def test_the_app_keeps_only_the_monitor_state_faust_reads(tmp_path: Any) -> None:
    from app.stream.app import LeanMonitor

    app, _ = build_app(load_settings(data_dir=str(tmp_path)))
    monitor = app.monitor
    assert isinstance(monitor, LeanMonitor)
    monitor.on_stream_event_in(EVENTS, 7, None, None)
    monitor.on_message_in(EVENTS, 7, SimpleNamespace())
    monitor.on_stream_event_out(EVENTS, 7, None, None, None)
    monitor.on_message_out(EVENTS, 7, SimpleNamespace())
    # Faust's check for a stream that stopped taking events reads this; nothing else is kept.
    assert EVENTS in monitor.stream_inbound_time and monitor.tp_read_offsets[EVENTS] == 7
    assert monitor.events_total == monitor.messages_received_total == 0
    assert not monitor.events_by_stream and not monitor.events_runtime
