"""Detection core throughput and memory: events per second on one core, bytes per account.

Events come from the simulator's standard suite (its first ``EVENTS`` events, benign and
campaign traffic mixed as the suite mixes them), decoded before the clock starts, so the
figures are the core's own. Raw-text figures include decoding (SimHash and content flags).
"""

from __future__ import annotations

import contextlib
import gc
import os
import random
import time
import tracemalloc
from collections.abc import Iterator
from itertools import islice
from typing import Any

import orjson

from app.core.engine import Engine, EngineConfig
from app.core.types import AccountSignal, decode_signal_entries
from app.events import Event, event_from_dict, parse_event
from app.stream.pipeline import route_signals

EVENTS = 200_000
RAW_EVENTS = 30_000
MEMORY_ACCOUNTS = 100_000


@contextlib.contextmanager
def _one_core() -> Iterator[None]:
    """Pin this process to one CPU while the block runs (where the OS allows it)."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _suite(n: int, raw_text: bool) -> list[dict[str, Any]]:
    from app.sim import Simulation, load_scenario

    sim = Simulation(load_scenario("standard"))
    return list(islice(sim.events(raw_text), n))


def _rate(fn: Any, items: list[Any], repeats: int = 3) -> float:
    """Best CPU time per item over ``repeats`` runs, in seconds (the process clock)."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        started = time.process_time()
        fn(items)
        best = min(best, time.process_time() - started)
    return best / len(items)


def _account_stage(events: list[Event]) -> None:
    engine = Engine(EngineConfig(coordination_enabled=False))
    for event in events:
        engine.process_account(event)


def _engine(events: list[Event]) -> None:
    engine = Engine()
    for event in events:
        engine.process(event)


def _raw(lines: list[bytes]) -> None:
    engine = Engine()
    for line in lines:
        engine.process(parse_event(line))


def _synthetic(n_accounts: int, rng: random.Random) -> Iterator[Event]:
    """Three events for each of ``n_accounts`` accounts, made on the fly (nothing kept)."""
    for i in range(n_accounts):
        account = f"acct_{i:012x}"
        for k in range(3):
            yield Event(
                event_id=f"e{i}-{k}", ts=1.77e9 + i * 0.5 + k * 40.0, account_id=account,
                model="claude-sonnet-4-5", prompt_tokens=rng.randrange(50, 2000),
                completion_tokens=rng.randrange(10, 3000), max_tokens=4096, turn=1 + k,
                prompt_fp=rng.getrandbits(64), ip=f"10.{i % 250}.{k}.1", asn=7922,
                user_agent="Mozilla/5.0", tls_fp="t13d1516h2", account_created_ts=1.7e9,
                flags=rng.choice((0, 1, 4)),
            )  # fmt: skip


def bytes_per_account(n_accounts: int = MEMORY_ACCOUNTS) -> float:
    """Traced memory of the per-account stage after ``n_accounts`` accounts, per account."""
    engine = Engine(EngineConfig(coordination_enabled=False))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for event in _synthetic(n_accounts, random.Random(7)):
            engine.process_account(event)
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return used / engine.accounts_tracked()


def _rss() -> int:
    """Resident set size of this process in bytes (Linux), else 0."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def rss_bytes_per_account(n_accounts: int) -> float:
    """Resident memory the account stage grows by over ``n_accounts`` accounts, per account.

    tracemalloc over a million accounts takes tens of minutes; the process's resident set
    gives the same per-account figure (plus allocator slack) in about a minute.
    """
    engine = Engine(EngineConfig(coordination_enabled=False))
    gc.collect()
    before = _rss()
    for event in _synthetic(n_accounts, random.Random(7)):
        engine.process_account(event)
    gc.collect()
    return max(0, _rss() - before) / engine.accounts_tracked()


def _signals(events: list[Event]) -> list[AccountSignal]:
    """The account signals with coordination keys that the account stage emits for ``events``."""
    engine = Engine(EngineConfig(coordination_enabled=False))
    out = []
    for event in events:
        signal = engine.process_account(event)[1]
        if signal is not None and signal.keys:
            out.append(signal)
    return out


def _decode_signals(messages: list[tuple[int, bytes, bytes]]) -> int:
    """What the coordination agent does with the internal topic's messages before the core
    (``DetectorWorker.handle_signals``); return the entries decoded."""
    n = 0
    for _, _, value in messages:
        n += len(decode_signal_entries(orjson.loads(value)))
    return n


def run() -> dict[str, Any]:
    """Measure the core; return the figures for bench/results.json."""
    rows = _suite(EVENTS, raw_text=False)
    events = [event_from_dict(row) for row in rows]
    raw = [orjson.dumps(row) for row in _suite(RAW_EVENTS, raw_text=True)]
    with _one_core():
        account = _rate(_account_stage, events)
        engine = _rate(_engine, events)
        text = _rate(_raw, raw, repeats=1)
        decode = _rate(lambda lines: [parse_event(line) for line in lines], raw, repeats=1)
        # The internal signal topic's round trip, per event of the suite (4 partitions).
        signals = _signals(events)
        messages = route_signals(signals, 4, frozenset()).messages
        encode_sig = _rate(lambda _: route_signals(signals, 4, frozenset()), events)
        decode_sig = _rate(lambda _: _decode_signals(messages), events)
    probe = Engine(EngineConfig(coordination_enabled=False))
    probe.process_account(events[0])
    size = len(probe.export_account(events[0].account_id) or b"")
    import app.core.features

    return {
        # Whether `make compile` built the core into C extensions for this run.
        "core_compiled": not app.core.features.__file__.endswith(".py"),
        "core_events": len(events),
        "core_account_stage_events_per_s": round(1 / account),
        "core_account_stage_us_per_event": round(account * 1e6, 2),
        "core_engine_events_per_s": round(1 / engine),
        "core_engine_us_per_event": round(engine * 1e6, 2),
        "core_raw_text_events_per_s": round(1 / text),
        "core_raw_text_decode_us_per_event": round(decode * 1e6, 2),
        "core_bytes_per_account": round(bytes_per_account()),
        "core_rss_bytes_per_account_1m": round(rss_bytes_per_account(1_000_000)),
        "core_state_record_bytes": size,
        "core_signals": len(signals),
        "core_signal_encode_us_per_event": round(encode_sig * 1e6, 2),
        "core_signal_decode_us_per_event": round(decode_sig * 1e6, 2),
    }
