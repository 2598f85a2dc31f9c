"""The account checkpoint's bulk table writes, against the embedded broker.

Each record lands in the changelog partition Faust's own ``table[key] = value`` would send
it to (the producer's default partition for the key), with the value written last; the
store has every record at once; a partition whose send fails keeps its records for the
next flush, where a record written again in between wins.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from app.partition import partition_of
from app.stream.state import ChangelogBatches
from tests.kafka_helpers import read_topic

pytestmark = pytest.mark.integration

PARTITIONS = 4


class Store(dict):
    """A table store: a dict that keeps the offsets it is told were persisted."""

    def __init__(self) -> None:
        super().__init__()
        self.persisted: dict[int, int] = {}

    def set_persisted_offset(self, tp: Any, offset: int) -> None:
        self.persisted[tp.partition] = max(offset, self.persisted.get(tp.partition, -1))


class Table:
    def __init__(self, topic: str) -> None:
        self.changelog_topic_name = topic
        self.data = Store()


async def _producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=64 * 1024)
    await producer.start()
    return producer


def _writer(broker: Any, unique: str) -> tuple[Table, ChangelogBatches]:
    """A table on a fresh changelog topic and its bulk writer."""
    topic = f"changelog-{unique}"
    broker.create_topics([topic], partitions=PARTITIONS)
    table = Table(topic)
    return table, ChangelogBatches(table, PARTITIONS, store_reads_partition=False)


def _flush(bootstrap: str, writer: ChangelogBatches) -> int:
    """Flush ``writer`` with a producer of its own."""

    async def flush() -> int:
        producer = await _producer(bootstrap)
        try:
            return await writer.flush(producer)
        finally:
            await producer.stop()

    return asyncio.run(flush())


def test_records_land_in_their_keys_partitions_in_bulk(broker, unique) -> None:
    table, writer = _writer(broker, unique)
    topic = table.changelog_topic_name
    keys = [f"acct_{i:05d}".encode() for i in range(3_000)]
    for key in keys:
        writer.put(key, b"old-" + key)
    for key in keys[::3]:
        writer.put(key, b"new-" + key + b"x" * 300)  # bigger than one 64 KB batch per partition

    assert _flush(broker.bootstrap, writer) == len(keys)
    assert writer.pending == {}
    latest = {
        k: b"new-" + k + b"x" * 300 if i % 3 == 0 else b"old-" + k for i, k in enumerate(keys)
    }
    assert dict(table.data) == latest
    records = read_topic(broker.bootstrap, topic, expect=len(keys))
    assert len(records) == len(keys)  # one record per key: a key written twice went once
    assert {r.key: r.value for r in records} == latest
    assert all(r.partition == partition_of(r.key, PARTITIONS) for r in records)
    assert set(table.data.persisted) == set(range(PARTITIONS))


def test_a_failed_send_keeps_the_records_for_the_next_flush(broker, unique) -> None:
    table, writer = _writer(broker, unique)
    topic = table.changelog_topic_name
    keys = [f"acct_{i:04d}".encode() for i in range(200)]
    for key in keys:
        writer.put(key, b"first")

    async def attempt() -> None:
        producer = await _producer(broker.bootstrap)
        await producer.stop()  # a producer that cannot send
        await writer.flush(producer)

    with pytest.raises(Exception):  # noqa: B017 - aiokafka's own error for a stopped producer
        asyncio.run(attempt())
    assert sum(len(p) for p in writer.pending.values()) == len(keys)
    writer.put(keys[0], b"second")  # written again before the retry: the newer value goes
    dropped = (partition_of(keys[0], PARTITIONS) + 1) % PARTITIONS
    writer.drop({dropped})  # a partition handed to another worker: its records are its

    kept = [k for k in keys if partition_of(k, PARTITIONS) != dropped]
    assert _flush(broker.bootstrap, writer) == len(kept)
    records = read_topic(broker.bootstrap, topic, expect=len(kept))
    got = {r.key: r.value for r in records}
    assert set(got) == set(kept)
    assert got[keys[0]] == b"second"
    assert all(got[k] == b"first" for k in kept[1:])
