"""Simulator throughput: the standard suite to a file on one core, and events to the embedded broker."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from app.broker import EmbeddedBroker
from app.sim import Simulation, load_scenario
from app.sim.output import send_kafka, write_jsonl

BROKER_EVENTS = 200_000


@contextlib.contextmanager
def _one_core() -> Iterator[None]:
    """Pin this process to a single CPU while the block runs (where the OS allows it)."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _to_file(sim: Simulation, path: Path, raw_text: bool) -> tuple[float, int]:
    started = time.perf_counter()
    write_jsonl(sim.events(raw_text), path)
    return time.perf_counter() - started, path.stat().st_size


def run() -> dict[str, Any]:
    """Measure generation and output rates; return the figures."""
    figures: dict[str, Any] = {}
    with _one_core(), tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        started = time.perf_counter()
        sim = Simulation(load_scenario("standard"))
        plan = time.perf_counter() - started
        n = sim.n_events
        write, size = _to_file(sim, Path(tmp) / "events.jsonl", raw_text=True)
        write_gz, size_gz = _to_file(sim, Path(tmp) / "events.jsonl.gz", raw_text=True)
        write_fp, _ = _to_file(sim, Path(tmp) / "fp.jsonl", raw_text=False)
        figures.update(
            {
                "sim_standard_events": n,
                "sim_standard_accounts": sim.truth()["events"] and len(sim.truth()["accounts"]),
                "sim_standard_plan_seconds": round(plan, 2),
                "sim_file_events_per_s": round(n / (plan + write)),
                "sim_file_write_only_events_per_s": round(n / write),
                "sim_file_gzip_events_per_s": round(n / (plan + write_gz)),
                "sim_file_fingerprints_only_events_per_s": round(n / (plan + write_fp)),
                "sim_file_bytes_per_event": round(size / n),
                "sim_file_gzip_bytes_per_event": round(size_gz / n, 1),
            }
        )
    with EmbeddedBroker() as broker:
        topic = f"bench-sim-{uuid.uuid4().hex[:8]}"
        broker.create_topics([topic], partitions=4)
        events = list(islice(sim.events(raw_text=False), BROKER_EVENTS))
        started = time.perf_counter()
        sent = send_kafka(events, broker.bootstrap, topic)
        figures["sim_broker_events_per_s"] = round(sent / (time.perf_counter() - started))
        figures["sim_broker_events"] = sent
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<45} {value}")
