"""Table writes outside a stream name the partition Faust's RocksDB store files them under."""

from __future__ import annotations

from typing import Any

from faust.streams import current_event

from app.stream.pipeline import partition_of
from app.stream.state import partition_writer, table_writer


class Table(dict):
    """Records the partition the current event names at each write, as the store reads it."""

    changelog_topic_name = "app-table-changelog"

    def __init__(self) -> None:
        super().__init__()
        self.partitions: dict[bytes, int] = {}

    def __setitem__(self, key: Any, value: Any) -> None:
        event = current_event()
        assert event is not None, "a RocksDB store refuses a write without an event"
        self.partitions[key] = event.message.partition
        super().__setitem__(key, value)


def test_each_write_names_the_partition_its_changelog_record_goes_to() -> None:
    table = Table()
    put = table_writer(table, 4)
    keys = [f"acct_{i:04d}".encode() for i in range(200)]
    for key in keys:
        put(key, b"state")
    assert table.partitions == {k: partition_of(k, 4) for k in keys}
    assert set(table.partitions.values()) == {0, 1, 2, 3}
    assert current_event() is None  # nothing left behind for the next write


def test_the_memory_store_writes_without_a_partition() -> None:
    seen: list[Any] = []

    class Plain(dict):
        def __setitem__(self, key: Any, value: Any) -> None:
            seen.append(current_event())  # no partition named: nothing hashed per write
            super().__setitem__(key, value)

    table = Plain()
    put = table_writer(table, 4, store_reads_partition=False)
    put(b"acct", b"state")
    assert table == {b"acct": b"state"} and seen == [None]


def test_the_producers_partitioner_agrees() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    choose = DefaultPartitioner()
    for i in range(100):
        key = f"uid-{i}".encode()
        assert partition_of(key, 6) == choose(key, list(range(6)), list(range(6)))


def test_a_partition_writer_files_each_record_under_the_partition_it_is_given() -> None:
    table = Table()
    put = partition_writer(table)
    for i in range(20):
        put(f"uid-{i}".encode(), b"record", i % 3)
    assert table.partitions == {f"uid-{i}".encode(): i % 3 for i in range(20)}
    assert current_event() is None
