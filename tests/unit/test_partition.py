"""Kafka's default partition of a key, as aiokafka's partitioner computes it."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from app.partition import murmur2 as our_murmur2
from app.partition import partition_of


@settings(max_examples=2_000)
@given(st.binary(max_size=80))
def test_murmur2_is_kafkas(data: bytes) -> None:
    assert our_murmur2(data) == murmur2(data)


@given(st.binary(min_size=1, max_size=40), st.integers(1, 64))
def test_the_partition_is_the_default_partitioners(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert partition_of(key, partitions) == DefaultPartitioner()(key, every, every)
