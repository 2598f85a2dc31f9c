"""Small helpers for integration tests: produce to and read back from the embedded broker."""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes]]) -> int:
    """Send (key, value) pairs and wait until the broker has them; return the count."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_request_size=4 * 1024 * 1024
    )
    n = 0
    for key, value in messages:
        producer.send(topic, key=key, value=value)
        n += 1
    producer.flush()
    producer.close()
    return n


def read_topic(
    bootstrap: str, topic: str, expect: int | None = None, timeout: float = 30.0, idle: float = 2.0
) -> list:
    """Read every message of ``topic`` from the beginning (no consumer group).

    Stops when ``expect`` messages were read, or after ``idle`` seconds without new ones
    (once at least ``expect`` were seen, or when ``expect`` is None), or at ``timeout``.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=200
    )
    deadline = time.monotonic() + timeout
    partitions = None
    while partitions is None and time.monotonic() < deadline:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            time.sleep(0.2)
    if not partitions:
        consumer.close()
        return []
    consumer.assign([TopicPartition(topic, p) for p in partitions])
    consumer.seek_to_beginning()
    out: list = []
    last_new = time.monotonic()
    while time.monotonic() < deadline:
        before = len(out)
        for msg in consumer:
            out.append(msg)
        if len(out) > before:
            last_new = time.monotonic()
        if expect is not None and len(out) >= expect and time.monotonic() - last_new > 0.5:
            break
        if expect is None and time.monotonic() - last_new > idle:
            break
    consumer.close()
    return out


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.25) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def worker_env(unique: str) -> dict[str, str]:
    """Worker settings for one test: its own topics, two partitions, a 1 s checkpoint, a
    stall report after 10 s."""
    return {
        "ABUSE_EVENTS_TOPIC": f"events-{unique}",
        "ABUSE_DLQ_TOPIC": f"dlq-{unique}",
        "ABUSE_ALERTS_TOPIC": f"alerts-{unique}",
        "ABUSE_FEEDBACK_TOPIC": f"feedback-{unique}",
        "ABUSE_PARTITIONS": "2",
        "ABUSE_CHECKPOINT_SECONDS": "1",
        "ABUSE_GROUP_CHECKPOINT_SECONDS": "1",
        "ABUSE_STALL_SECONDS": "10",
    }
