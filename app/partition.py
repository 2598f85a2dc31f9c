"""The partition Kafka's default partitioner gives a key: murmur2, as the Java client and
aiokafka compute it.

aiokafka's ``murmur2`` is pure Python, about 3 µs a key; the worker hashes every account it
checkpoints and, at a rebalance, every account it holds. Written here for mypyc (``make
compile``): the 32-bit products are taken in two halves so that no intermediate leaves a
machine word, which keeps the compiled code on native integers. The result is the same
with or without the build (``tests/unit/test_partition.py`` checks it against aiokafka's).
"""

from __future__ import annotations

from typing import Final

from mypy_extensions import i64

SEED: Final = 0x9747B28C
M_LO: Final = 0xE995  # the mixing constant 0x5BD1E995, in 16-bit halves
M_HI: Final = 0x5BD1
MASK: Final = 0xFFFFFFFF


def _mul_m(x: i64) -> i64:
    """``x * 0x5BD1E995`` modulo 2**32, for ``0 <= x < 2**32``."""
    return (x * M_LO + (((x * M_HI) & 0xFFFF) << 16)) & MASK


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of ``data`` (an unsigned 32-bit value, as aiokafka returns it)."""
    length: i64 = len(data)
    h: i64 = SEED ^ length
    end: i64 = length & ~3
    i: i64 = 0
    k: i64
    while i < end:
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = _mul_m(k)
        k ^= k >> 24
        k = _mul_m(k)
        h = _mul_m(h) ^ k
        i += 4
    extra: i64 = length & 3
    if extra >= 3:
        h ^= data[end + 2] << 16
    if extra >= 2:
        h ^= data[end + 1] << 8
    if extra >= 1:
        h ^= data[end]
        h = _mul_m(h)
    h ^= h >> 13
    h = _mul_m(h)
    h ^= h >> 15
    return h


def partition_of(key: bytes, partitions: int) -> int:
    """The producer's default partition for ``key`` among ``partitions``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
