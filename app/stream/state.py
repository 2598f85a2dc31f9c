"""Partition-owned detector state, checkpointed into Faust changelog tables.

Per-account state lives in the engine's memory (fast path) and is written to a changelog
table at most once per checkpoint interval per account; a restarted worker restores an
account from the table the first time it sees it again.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, MutableMapping
from typing import Any, cast

from faust.streams import _current_event

from app.core.engine import Engine
from app.core.types import AccountSignal, Detection
from app.events import Event
from app.partition import partition_of


class CheckpointedEngine:
    """The engine's account stage with lazy restore and dirty tracking."""

    def __init__(self, engine: Engine, table: MutableMapping[bytes, bytes] | None = None) -> None:
        self.engine = engine
        self.table = table
        self.dirty: set[str] = set()
        self._known = engine.accounts.accounts  # the engine's own dict of account states

    def process_account(self, event: Event) -> tuple[list[Detection], AccountSignal | None]:
        """Restore the account if needed, then run the account stage."""
        account = event.account_id
        if account not in self._known and self.table is not None:
            data = self.table.get(account.encode())
            if data:
                self.engine.import_account(account, data)
        self.dirty.add(account)
        return self.engine.process_account(event)

    def checkpoint(self, write: Callable[[bytes, bytes], None] | None = None) -> int:
        """Write every account touched since the last checkpoint; return how many.

        Keys are the account id's bytes, so the default partitioner puts each account's
        state in the same partition number as its events.
        """
        if self.table is None and write is None:
            self.dirty.clear()
            return 0
        put = write or self.table.__setitem__  # type: ignore[union-attr,index]
        n = 0
        for account in self.dirty:
            data = self.engine.export_account(account)
            if data is not None:
                put(account.encode(), data)
                n += 1
        self.dirty.clear()
        return n


class _Message:
    __slots__ = ("partition", "topic")

    def __init__(self, partition: int, topic: str) -> None:
        self.partition = partition
        self.topic = topic


class _PartitionEvent:
    """What Faust's tables read of the event being processed: its partition and topic.

    Faust keeps a weak reference to the current event; ``ref`` is this one's.
    """

    __slots__ = ("message", "ref", "__weakref__")

    def __init__(self, partition: int, topic: str) -> None:
        self.message = _Message(partition, topic)
        self.ref = weakref.ref(self)


def table_writer(
    table: MutableMapping[Any, Any], partitions: int, store_reads_partition: bool = True
) -> Callable[[bytes, bytes], None]:
    """``table[key] = value`` that works from outside a stream with every table store.

    Faust's RocksDB store files a write under the partition of the event being processed
    (``faust.streams.current_event()``) and refuses one made outside a stream; the worker
    writes from its batch handlers and its checkpoint timer, where there is none. The write
    is made under the partition the producer's default partitioner gives the key, which is
    where the table (``use_partitioner``) sends the changelog record, so recovery refills
    the same partition. The memory store ignores the partition: with
    ``store_reads_partition`` false the write is the table's own ``__setitem__``, without
    the cost of hashing every key.
    """
    if not store_reads_partition:
        return table.__setitem__
    put_at = partition_writer(table)
    return lambda key, value: put_at(key, value, partition_of(key, partitions))


class ChangelogBatches:
    """A table's writes in bulk: the store at once, the changelog records in one batch per
    partition, sent by :meth:`flush`.

    ``table[key] = value`` sends each changelog record through Faust's own future, buffer
    task and callbacks; the account checkpoint writes every account touched in the
    interval (thousands a second in a busy worker), and that path cost it several times
    what exporting the states did (docs/performance.md). Here each record is appended to
    an aiokafka batch of its partition (the producer's default partition for the key, as
    ``use_partitioner`` sends it) and a partition's batches go out together. The store is
    written at :meth:`put`, under the same partition (``store_reads_partition``, as in
    :func:`table_writer`). A partition whose send fails keeps its records for the next
    :meth:`flush`, a record written again since then winning. Flushes run one at a time,
    so a key's records reach its partition in the order they were written.
    """

    def __init__(self, table: Any, partitions: int, store_reads_partition: bool = True) -> None:
        self.table = table
        self.topic = table.changelog_topic_name
        self.partitions = partitions
        self._store_put = partition_writer(table.data) if store_reads_partition else None
        self.pending: dict[int, dict[bytes, bytes]] = {}
        self._flushing = asyncio.Lock()
        self._drops: dict[int, int] = {}  # times each partition was dropped

    def put(self, key: bytes, value: bytes) -> None:
        """Write ``key`` to the store now and queue its changelog record."""
        p = partition_of(key, self.partitions)
        if self._store_put is None:
            self.table.data[key] = value
        else:
            self._store_put(key, value, p, self.topic)
        queued = self.pending.get(p)
        if queued is None:
            queued = self.pending[p] = {}
        queued[key] = value

    async def flush(self, producer: Any) -> int:
        """Send the queued records with ``producer`` (an ``AIOKafkaProducer``) and wait for
        the broker; return how many went. Raise the first failure once every partition has
        been tried; the failed partitions' records stay queued."""
        async with self._flushing:
            return await self._flush(producer)

    async def _flush(self, producer: Any) -> int:
        sending, self.pending = self.pending, {}
        drops = dict(self._drops)
        sent: list[tuple[int, Any, int]] = []
        failure: BaseException | None = None
        for p, records in sending.items():
            try:
                for batch, n in _batches(producer, records):
                    sent.append((p, await producer.send_batch(batch, self.topic, partition=p), n))
            except Exception as exc:
                failure = failure or exc
                self._requeue(p, records, drops)
        n_sent = 0
        for p, future, n in sent:
            try:
                meta = await future
            except Exception as exc:
                failure = failure or exc
                self._requeue(p, sending[p], drops)
                continue
            n_sent += n
            # As Faust's own send does: where the store's changelog is read from after a
            # restart (RocksDB; the memory store keeps none). The batch's first record:
            # recovery reads it again rather than risk skipping one.
            self.table.data.set_persisted_offset(meta.topic_partition, meta.offset)
        if failure is not None:
            raise failure
        return n_sent

    def drop(self, partitions: set[int]) -> None:
        """Forget the queued records of ``partitions`` (another worker owns them now),
        and those of a flush on its way that fails."""
        for p in partitions:
            self.pending.pop(p, None)
            self._drops[p] = self._drops.get(p, 0) + 1

    def _requeue(self, p: int, records: dict[bytes, bytes], drops: dict[int, int]) -> None:
        if self._drops.get(p, 0) != drops.get(p, 0):
            return  # dropped while this flush ran: the new owner writes them
        queued = self.pending.setdefault(p, {})
        for key, value in records.items():
            queued.setdefault(key, value)


def _batches(producer: Any, records: dict[bytes, bytes]) -> list[tuple[Any, int]]:
    """``records`` in as few of the producer's batches as its batch size allows."""
    out: list[tuple[Any, int]] = []
    batch, n = producer.create_batch(), 0
    for key, value in records.items():
        while batch.append(key=key, value=value, timestamp=None) is None:  # full: next batch
            if n == 0:
                raise ValueError(f"a changelog record of {len(value)} bytes fits no batch")
            out.append((batch, n))
            batch, n = producer.create_batch(), 0
        n += 1
    if n:
        out.append((batch, n))
    return out


def partition_writer(table: Any) -> Callable[..., None]:
    """``table[key] = value`` filed under a partition the caller names.

    The write names it as the partition of the event being processed: the store files the
    record there, and a table declared without ``use_partitioner`` also sends its changelog
    record there, so the record is restored by the worker assigned that partition. The
    event's topic is the changelog's own: Faust checks that an event's topic has as many
    partitions as the changelog, and the partition here is the caller's choice, not that of
    a topic the record was read from.
    """
    events: dict[int, _PartitionEvent] = {}  # alive as long as ``put``

    def put(key: bytes, value: bytes, partition: int, topic: str = "") -> None:
        event = events.get(partition)
        if event is None:
            topic = topic or table.changelog_topic_name
            event = events[partition] = _PartitionEvent(partition, topic)
        token = _current_event.set(cast(Any, event.ref))
        try:
            table[key] = value
        finally:
            _current_event.reset(token)

    return put
