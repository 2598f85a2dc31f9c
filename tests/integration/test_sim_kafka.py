"""The simulator's Kafka output against the embedded broker: every event arrives, keyed by account."""

from __future__ import annotations

import time
from collections import defaultdict

import orjson
import pytest

from app.broker import EmbeddedBroker
from app.sim import Simulation, load_scenario
from app.sim.output import send_kafka

pytestmark = pytest.mark.integration


def _read_all(
    bootstrap: str, topic: str, expected: int, timeout: float = 60.0
) -> list[tuple[int, bytes, bytes]]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1000
    )
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        out: list[tuple[int, bytes, bytes]] = []
        deadline = time.monotonic() + timeout
        while len(out) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500, max_records=20_000).values():
                out.extend((r.partition, r.key, r.value) for r in records)
        return out
    finally:
        consumer.close()


def test_smoke_events_reach_the_topic_keyed_by_account(broker: EmbeddedBroker, unique: str) -> None:
    topic = f"sim-events-{unique}"
    broker.create_topics([topic], partitions=3)
    sim = Simulation(load_scenario("smoke"))
    sent = send_kafka(sim.events(raw_text=False), broker.bootstrap, topic)
    assert sent == sim.n_events

    records = _read_all(broker.bootstrap, topic, sent)
    assert len(records) == sent
    partitions_of: dict[bytes, set[int]] = defaultdict(set)
    for partition, key, value in records:
        event = orjson.loads(value)
        assert key == event["account_id"].encode()
        partitions_of[key].add(partition)
    assert all(len(p) == 1 for p in partitions_of.values())  # one account, one partition
    assert {k.decode() for k in partitions_of} == set(sim.truth()["accounts"])


def test_speed_paces_events_in_event_time(broker: EmbeddedBroker, unique: str) -> None:
    topic = f"sim-paced-{unique}"
    broker.create_topics([topic], partitions=1)
    events = list(Simulation(load_scenario("smoke")).events())
    t_first = events[0]["ts"]
    window = [ev for ev in events if ev["ts"] < t_first + 120.0]  # two simulated minutes
    start = time.monotonic()
    sent = send_kafka(window, broker.bootstrap, topic, speed=120.0)
    elapsed = time.monotonic() - start
    assert sent == len(window) > 10
    paced = (window[-1]["ts"] - t_first) / 120.0  # about one second of wall time at 120x
    assert paced - 0.05 <= elapsed < paced + 5.0
