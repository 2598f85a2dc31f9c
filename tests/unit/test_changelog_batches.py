"""The account checkpoint's bulk writer when a partition changes hands during a flush.

A flush that fails keeps its records for the next one, except those of a partition
dropped while it ran: another worker owns that partition now and writes its accounts
(sending them later could overwrite newer state). Two flushes never interleave, so a
key's newer state cannot reach its partition before an older one. The producers are
stand-ins; the real broker's behaviour is in tests/integration/test_changelog_batches.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.partition import partition_of
from app.stream.state import ChangelogBatches

PARTITIONS = 4


class Store(dict):
    def set_persisted_offset(self, tp: Any, offset: int) -> None:
        raise AssertionError("nothing is persisted by a failed flush")


class Table:
    changelog_topic_name = "app-account-state-changelog"

    def __init__(self) -> None:
        self.data = Store()


class Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes]] = []

    def append(self, key: bytes, value: bytes, timestamp: Any) -> object:
        self.records.append((key, value))
        return object()


class FailingProducer:
    """Takes batches; each delivery fails once ``release`` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    def create_batch(self) -> Batch:
        return Batch()

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> Any:
        async def delivery() -> None:
            await self.release.wait()
            raise ConnectionError("the broker went away")

        return asyncio.ensure_future(delivery())


def test_a_partition_dropped_during_a_failed_flush_is_not_queued_again() -> None:
    writer = ChangelogBatches(Table(), PARTITIONS, store_reads_partition=False)
    keys = [f"acct_{i:03d}".encode() for i in range(100)]
    for key in keys:
        writer.put(key, b"state")
    lost = partition_of(keys[0], PARTITIONS)

    async def flush_while_the_partition_moves() -> BaseException | None:
        producer = FailingProducer()
        flush = asyncio.create_task(writer.flush(producer))
        await asyncio.sleep(0.01)  # the batches are on their way
        writer.drop({lost})
        producer.release.set()
        try:
            await flush
        except ConnectionError as exc:
            return exc
        return None

    assert isinstance(asyncio.run(flush_while_the_partition_moves()), ConnectionError)
    assert lost not in writer.pending
    kept = {k for k in keys if partition_of(k, PARTITIONS) != lost}
    assert {k for records in writer.pending.values() for k in records} == kept


def test_a_failed_flush_keeps_the_records_and_a_newer_write_wins() -> None:
    writer = ChangelogBatches(Table(), PARTITIONS, store_reads_partition=False)
    writer.put(b"acct", b"first")

    async def fail_then_write() -> None:
        producer = FailingProducer()
        flush = asyncio.create_task(writer.flush(producer))
        await asyncio.sleep(0.01)
        writer.put(b"acct", b"second")  # written again while the failing flush runs
        producer.release.set()
        await flush

    with pytest.raises(ConnectionError):
        asyncio.run(fail_then_write())
    assert writer.pending == {partition_of(b"acct", PARTITIONS): {b"acct": b"second"}}


class SlowFirstProducer:
    """Queues batches in the order they are handed over; the first hand-over waits (as
    aiokafka's does while the partition's previous batch drains)."""

    def __init__(self) -> None:
        self.queued: list[tuple[int, bytes, bytes]] = []
        self.calls = 0

    def create_batch(self) -> Batch:
        return Batch()

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> Any:
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(0.05)
        self.queued += [(partition, k, v) for k, v in batch.records]
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(type("Meta", (), {"topic_partition": None, "offset": 0})())
        return done


def test_two_flushes_do_not_interleave() -> None:
    table = Table()
    table.data = type("Quiet", (dict,), {"set_persisted_offset": lambda *a: None})()
    writer = ChangelogBatches(table, PARTITIONS, store_reads_partition=False)
    producer = SlowFirstProducer()

    async def two_flushes() -> None:
        writer.put(b"acct", b"older")
        first = asyncio.create_task(writer.flush(producer))
        await asyncio.sleep(0)  # the first flush waits on its hand-over
        writer.put(b"acct", b"newer")
        await asyncio.gather(first, writer.flush(producer))

    asyncio.run(two_flushes())
    assert [v for _, k, v in producer.queued if k == b"acct"] == [b"older", b"newer"]
