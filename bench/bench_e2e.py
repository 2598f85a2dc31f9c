"""End to end through the embedded broker: one worker against a bare aiokafka consumer."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

import orjson

from app.broker import EmbeddedBroker
from app.stream.process import WorkerProcess


def _standard_events(n: int) -> list[tuple[bytes, bytes]]:
    """The first ``n`` events of the standard suite (fingerprints only), as the core bench."""
    from bench.bench_core import _suite

    return [(e["account_id"].encode(), orjson.dumps(e)) for e in _suite(n, raw_text=False)]


def _events(n: int) -> list[tuple[bytes, bytes]]:
    from app.sim import generate, load_scenario

    out: list[tuple[bytes, bytes]] = []
    while len(out) < n:
        events, _ = generate(load_scenario("smoke"), seed=len(out) + 1, raw_text=False)
        for event in events:
            out.append((event["account_id"].encode(), orjson.dumps(event)))
            if len(out) >= n:
                break
    return out


def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, batch_size=512 * 1024, acks=1
    )
    for key, value in messages:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


async def _ceiling(bootstrap: str, topic: str, n: int) -> float:
    """Events/s a bare aiokafka consumer reads and parses with orjson."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=4 << 20
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        seen, started = 0, time.perf_counter()
        while seen < n:
            for records in (await consumer.getmany(timeout_ms=500, max_records=10_000)).values():
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def _report(procs: list[WorkerProcess]) -> str:
    """Each worker's processed count, stall reports and log tail, for a run that hangs."""
    return "".join(
        f"\n--- worker {i} ({p.metric('abuse_detector_events_processed_total'):.0f} events, "
        f"stalls {p.metric('abuse_detector_worker_stalls_total'):.0f}, log {p.log_path}):\n"
        f"{p.log_tail(6000)}"
        for i, p in enumerate(procs)
    )


def _worker_rate(broker: EmbeddedBroker, topic: str, n: int, workers: int = 1) -> float:
    """Events/s of ``workers`` worker processes draining a pre-filled topic."""
    app_id = f"bench-{uuid.uuid4().hex[:6]}"
    env = {"ABUSE_EVENTS_TOPIC": topic, "ABUSE_PARTITIONS": "4", "ABUSE_BATCH_SIZE": "5000"}
    procs = [WorkerProcess(broker.url, app_id, env=env).start() for _ in range(workers)]
    try:
        for proc in procs:
            proc.wait_ready(120)
        started = time.perf_counter()
        first = None
        while True:
            done = sum(p.metric("abuse_detector_events_processed_total") for p in procs)
            # Each worker stamps its last finished batch (wall clock): the rate is measured
            # between those stamps, not between scrapes, so one scrape a second is exact
            # enough and costs the workers little (ten a second cost one worker about 5%).
            last = max(p.metric("abuse_detector_last_processed_timestamp_seconds") for p in procs)
            if first is None and done > 0:
                first = (last, done)
            if done >= n:
                break
            if time.perf_counter() - started > 600:
                raise RuntimeError(
                    f"workers processed only {done} of {n} events in 600 s{_report(procs)}"
                )
            time.sleep(1.0)
        t0, d0 = first or (last, 0)
        if d0 >= n or last <= t0:  # all done before the first scrape: no interval to measure
            raise RuntimeError(f"workers drained all {n} events before the first scrape")
        return (n - d0) / (last - t0)
    finally:
        for proc in procs:
            proc.stop()


def run(n: int = 200_000, repeats: int = 3) -> dict[str, Any]:
    """Measure e2e and ceiling in the same run; medians of ``repeats``.

    The headline rows drain the smoke suite generated again and again (campaigns dense,
    the heavy case for coordination); the ``*_standard`` rows drain the first ``n`` events
    of the standard suite, the traffic mix the core bench and the detection figures use.
    """
    messages = _events(n)
    standard = _standard_events(n)
    e2e, ceiling, two, e2e_std, ceiling_std = [], [], [], [], []
    with EmbeddedBroker() as broker:
        for i in range(repeats):
            topic = f"bench-events-{i}"
            broker.create_topics([topic], partitions=4)
            _produce(broker.bootstrap, topic, messages)
            ceiling.append(asyncio.run(_ceiling(broker.bootstrap, topic, n)))
            e2e.append(_worker_rate(broker, topic, n))
            two.append(_worker_rate(broker, topic, n, workers=2))
            topic = f"bench-standard-{i}"
            broker.create_topics([topic], partitions=4)
            _produce(broker.bootstrap, topic, standard)
            ceiling_std.append(asyncio.run(_ceiling(broker.bootstrap, topic, n)))
            e2e_std.append(_worker_rate(broker, topic, n))
    result = {
        "e2e_events_per_s": statistics.median(e2e),
        "ceiling_events_per_s": statistics.median(ceiling),
        "e2e_runs": e2e,
        "ceiling_runs": ceiling,
        "e2e_events": n,
        "two_workers_events_per_s": statistics.median(two),
        "two_workers_speedup": statistics.median(t / o for t, o in zip(two, e2e, strict=True)),
        "e2e_standard_events_per_s": statistics.median(e2e_std),
        "ceiling_standard_events_per_s": statistics.median(ceiling_std),
        "e2e_standard_runs": e2e_std,
    }
    result["e2e_ratio"] = result["e2e_events_per_s"] / result["ceiling_events_per_s"]
    result["e2e_standard_ratio"] = (
        result["e2e_standard_events_per_s"] / result["ceiling_standard_events_per_s"]
    )
    return result
