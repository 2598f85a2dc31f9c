"""Partition-owned detector state, checkpointed into Faust changelog tables.

Per-account state lives in the engine's memory (fast path) and is written to a changelog
table at most once per checkpoint interval per account; a restarted worker restores an
account from the table the first time it sees it again.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, MutableMapping
from typing import Any, cast

from faust.streams import _current_event

from app.core.engine import Engine
from app.core.types import AccountSignal, Detection
from app.events import Event
from app.stream.pipeline import partition_of


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


def partition_writer(table: Any) -> Callable[[bytes, bytes, int], None]:
    """``table[key] = value`` filed under a partition the caller names.

    The write names it as the partition of the event being processed: the store files the
    record there, and a table declared without ``use_partitioner`` also sends its changelog
    record there, so the record is restored by the worker assigned that partition. The
    event's topic is the changelog's own: Faust checks that an event's topic has as many
    partitions as the changelog, and the partition here is the caller's choice, not that of
    a topic the record was read from.
    """
    events: dict[int, _PartitionEvent] = {}  # alive as long as ``put``

    def put(key: bytes, value: bytes, partition: int) -> None:
        event = events.get(partition)
        if event is None:
            topic = table.changelog_topic_name
            event = events[partition] = _PartitionEvent(partition, topic)
        token = _current_event.set(cast(Any, event.ref))
        try:
            table[key] = value
        finally:
            _current_event.reset(token)

    return put
