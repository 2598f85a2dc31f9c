"""Arrival processes: diurnal sessions, multi-turn conversations, clockwork and gamma timing."""

from __future__ import annotations

import numpy as np

DAY = 86400.0


def diurnal(
    ts: np.ndarray,
    tz_hours: float | np.ndarray,
    peak_hour: float | np.ndarray,
    floor: float | np.ndarray,
) -> np.ndarray:
    """Relative activity (floor..1) at event times for a user in time zone ``tz_hours``."""
    local = (ts / 3600.0 + tz_hours) % 24.0
    wave = (1.0 + np.cos(2 * np.pi * (local - peak_hour) / 24.0)) / 2.0
    return floor + (1.0 - floor) * wave**2


def session_starts(
    rng: np.random.Generator,
    t0: float,
    t1: float,
    per_day: float,
    tz: float,
    peak: float,
    floor: float,
) -> np.ndarray:
    """Session start times: an inhomogeneous Poisson process with a daily rhythm (thinning)."""
    if t1 <= t0 or per_day <= 0:
        return np.empty(0)
    # The mean of the diurnal weight is about floor + (1 - floor) * 3/8; scale so per_day holds.
    mean_w = floor + (1.0 - floor) * 0.375
    n = rng.poisson(per_day / mean_w * (t1 - t0) / DAY)
    ts = np.sort(rng.uniform(t0, t1, n))
    return ts[rng.random(n) < diurnal(ts, tz, peak, floor)]


def sessions_batch(
    rng: np.random.Generator,
    t0: float,
    t1: float,
    per_day: np.ndarray,
    tz: np.ndarray,
    peak: np.ndarray,
    floor: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Session starts of many accounts at once: (account position, start time), by thinning."""
    mean_w = floor + (1.0 - floor) * 0.375
    who = np.repeat(
        np.arange(len(per_day)), rng.poisson(per_day / mean_w * max(t1 - t0, 0.0) / DAY)
    )
    starts = rng.uniform(t0, t1, len(who))
    ok = rng.random(len(who)) < diurnal(starts, tz[who], peak[who], floor[who])
    return who[ok], starts[ok]


def expand(
    rng: np.random.Generator,
    parent_ts: np.ndarray,
    counts: np.ndarray,
    gap_median: np.ndarray | float,
    sigma: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand each parent into ``counts`` children spaced by lognormal gaps.

    Returns (child times, parent index, 1-based position inside the parent).
    """
    counts = np.maximum(np.asarray(counts, dtype=np.int64), 1)
    parent = np.repeat(np.arange(len(parent_ts)), counts)
    first = np.cumsum(counts) - counts
    pos = np.arange(len(parent)) - first[parent] + 1
    med = gap_median[parent] if isinstance(gap_median, np.ndarray) else gap_median
    gaps = rng.lognormal(0.0, sigma, len(parent)) * med
    gaps[first] = 0.0
    return parent_ts[parent] + group_cumsum(gaps, first, parent), parent, pos


def group_cumsum(values: np.ndarray, first: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at every group (``first`` = group start rows)."""
    total = np.cumsum(values)
    base = total[first] - values[first]
    return total - base[group]


def gamma_arrivals(
    rng: np.random.Generator, t0: float, t1: float, period: float, cv: float
) -> np.ndarray:
    """Arrivals with mean gap ``period`` and gap coefficient of variation ``cv`` (regular if small)."""
    if t1 <= t0 or period <= 0:
        return np.empty(0)
    n = int((t1 - t0) / period * 1.2) + 8
    shape = 1.0 / max(cv, 0.02) ** 2
    gaps = rng.gamma(shape, period / shape, n)
    ts = t0 + rng.uniform(0, period) + np.cumsum(gaps)
    return ts[ts < t1]


def clockwork(
    rng: np.random.Generator, t0: float, t1: float, period: float, jitter: float
) -> np.ndarray:
    """Cron-like times: every ``period`` seconds at a fixed offset, plus a small jitter."""
    offset = rng.uniform(0, period)
    ticks = (
        np.arange(np.ceil((t0 - offset) / period), np.floor((t1 - offset) / period) + 1) * period
        + offset
    )
    return ticks + np.abs(rng.normal(0, jitter, len(ticks)))


def bursts(
    rng: np.random.Generator,
    starts: np.ndarray,
    sizes: np.ndarray,
    gap_median: float,
    gap_sigma: float = 0.6,
) -> tuple[np.ndarray, np.ndarray]:
    """Expand burst starts into ``sizes`` requests each with short gaps: (times, burst index)."""
    sizes = np.maximum(sizes.astype(np.int64), 1)
    group = np.repeat(np.arange(len(starts)), sizes)
    first = np.cumsum(sizes) - sizes
    gaps = rng.lognormal(np.log(gap_median), gap_sigma, len(group))
    gaps[first] = 0.0
    return starts[group] + group_cumsum(gaps, first, group), group
