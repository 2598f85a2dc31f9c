"""Bounded building blocks of coordination state: seeded hashes, admission, templates.

Nothing here grows with the number of accounts: the admission filter is a fixed array, a
template tracker holds a few SimHash centres, the population baseline is a bottom-k sample.
"""

from __future__ import annotations

import heapq
import zlib
from array import array
from collections.abc import Container, Sequence
from hashlib import blake2b
from typing import Any, Final

from app.core.text import popcount

U64: Final = (1 << 64) - 1
# A template SimHash is cut into this many bands for the ``tpl:<band>:<hex>`` keys
# (app.core.coordination_keys builds them, ``template_from_keys`` reads them back).
TPL_BANDS: Final = 4
TPL_BAND_BITS: Final = 64 // TPL_BANDS


def key_hash(text: str, seed: int) -> int:
    """Return a fast stable 64-bit hash of a key (two seeded CRC-32s; not for sampling)."""
    raw = text.encode()
    return zlib.crc32(raw, seed & 0xFFFFFFFF) << 32 | zlib.crc32(raw, ~seed & 0xFFFFFFFF)


# A keyed BLAKE2b state per seed, copied for each text: keying a hash compresses one block
# of its own, which a copy of the keyed state does not do again.
_KEYED: dict[int, Any] = {}


def seeded_hash(text: str, seed: int) -> int:
    """Return a stable 64-bit hash of ``text`` under ``seed`` (same on every worker)."""
    keyed = _KEYED.get(seed)
    if keyed is None:
        key = seed.to_bytes(8, "little", signed=False)
        keyed = _KEYED[seed] = blake2b(digest_size=8, key=key)
    h = keyed.copy()
    h.update(text.encode())
    return int.from_bytes(h.digest(), "little")


def template_from_keys(keys: tuple[str, ...]) -> int:
    """Rebuild the 64-bit template SimHash from its four ``tpl:<band>:<hex>`` keys (0 if any is missing)."""
    fp = 0
    seen = 0
    for key in keys:
        if key.startswith("tpl:"):
            _, band, value = key.split(":", 2)
            b = int(band)
            fp |= int(value, 16) << (b * TPL_BAND_BITS)
            seen |= 1 << b
    return fp if seen == (1 << TPL_BANDS) - 1 else 0


class Doorkeeper:
    """Admit a key once a second distinct account uses it; fixed memory, approximate.

    A direct-mapped table of (key tag, account tag) pairs. A collision only delays admission
    until the next account arrives, it never admits a key used by one account alone
    (except by a 2**-32 tag collision).
    """

    __slots__ = ("slots", "mask")

    def __init__(self, bits: int = 20) -> None:
        self.mask = (1 << bits) - 1
        self.slots = array("Q", bytes(8 << bits))

    def admit(self, key_hash: int, account_hash: int) -> bool:
        """Record that ``account_hash`` used ``key_hash``; True once two accounts have."""
        slot = key_hash & self.mask
        tag = (key_hash >> 32) | 1
        acct = account_hash & 0xFFFFFFFF
        cell = self.slots[slot]
        if cell >> 32 == tag:
            return cell & 0xFFFFFFFF != acct
        self.slots[slot] = (tag << 32) | acct
        return False

    def nbytes(self) -> int:
        """Return the memory held by the table."""
        return self.slots.itemsize * len(self.slots)


class Templates:
    """A few SimHash centres seen in one group, with how many signals matched each.

    A centre moves to the bitwise majority of itself, the previous match and the new one,
    so a template whose fill-ins vary settles on its stable bits (a bit set in a share q of
    the instances ends up set with probability q^2 / (q^2 + (1-q)^2)). A miss wears every
    weight down by one; a centre worn to zero is replaced by the next miss (Misra-Gries).
    """

    __slots__ = ("centres", "weights", "prevs")

    def __init__(self) -> None:
        self.centres: list[int] = []
        self.weights: list[float] = []
        self.prevs: list[int] = []

    def add(self, fp: int, radius: int, cap: int = 4) -> int:
        """Fold one SimHash in; return the index of the centre it joined (-1 if none)."""
        centres = self.centres
        best, best_d = -1, radius + 1
        for i, c in enumerate(centres):
            d = popcount(c ^ fp)
            if d < best_d:
                best, best_d = i, d
        weights = self.weights
        if best >= 0:
            weights[best] += 1.0
            c, p = centres[best], self.prevs[best]
            centres[best] = (c & p) | (c & fp) | (p & fp)
            self.prevs[best] = fp
            return best
        if len(centres) < cap:
            centres.append(fp)
            weights.append(1.0)
            self.prevs.append(fp)
            return len(centres) - 1
        for i, w in enumerate(weights):
            if w <= 0.0:
                centres[i] = self.prevs[i] = fp
                weights[i] = 1.0
                return i
        for i, w in enumerate(weights):
            weights[i] = w - 1.0
        return -1

    def established(self, min_weight: float = 2.0) -> tuple[int, ...]:
        """Return the centres matched at least ``min_weight`` times, strongest first."""
        ranked = sorted(zip(self.weights, self.centres, strict=True), reverse=True)
        return tuple(c for w, c in ranked if w >= min_weight)

    def dominant(self) -> tuple[int, float]:
        """Return the centre with the most matches and that weight (0, 0 when empty)."""
        if not self.centres:
            return 0, 0.0
        i = max(range(len(self.weights)), key=self.weights.__getitem__)
        return self.centres[i], self.weights[i]


class PopulationSample:
    """Latest attributes of a bottom-k sample of all accounts (by hash): population baselines."""

    __slots__ = ("k", "sample", "top", "heap")

    def __init__(self, k: int = 512) -> None:
        self.k = k
        self.sample: dict[int, tuple[float, ...]] = {}
        self.top = U64
        # The sampled hashes negated, as a heap: the largest (the one to drop) comes first
        # without a scan of the sample at each replacement. ``top`` is ``-heap[0]`` once
        # the sample is full, kept so that the common case (a hash above it) negates nothing.
        self.heap: list[int] = []

    def wants(self, account_hash: int) -> bool:
        """Whether :meth:`add` would record the attributes of this account."""
        return len(self.sample) < self.k or account_hash < self.top or account_hash in self.sample

    def add(self, account_hash: int, values: tuple[float, ...]) -> None:
        """Record an account's latest attributes if it belongs to the sample."""
        sample = self.sample
        if account_hash in sample:
            sample[account_hash] = values
        elif len(sample) < self.k:
            sample[account_hash] = values
            heapq.heappush(self.heap, -account_hash)
            if len(sample) == self.k:
                self.top = -self.heap[0]
        elif account_hash < self.top:
            del sample[self.top]
            sample[account_hash] = values
            heapq.heapreplace(self.heap, -account_hash)
            self.top = -self.heap[0]

    def stats(
        self, skip: Container[int] = (), medians: Sequence[int] = ()
    ) -> tuple[list[float], list[float]] | None:
        """Return the mean of each attribute and the median of those in ``medians`` (in
        that order) over accounts not in ``skip``; only those columns are sorted.

        ``skip`` holds accounts already explained (named in a campaign), so the baseline
        stays that of the rest of the population. None while the sample is small.
        """
        rows = [v for h, v in self.sample.items() if h not in skip]
        if len(rows) < 32:
            return None
        cols = list(zip(*rows, strict=True))
        mid = len(rows) // 2
        return [sum(c) / len(c) for c in cols], [sorted(cols[i])[mid] for i in medians]
