"""Fault tolerance under load: a malformed flood here; kill -9 and a frozen broker in the
sibling ``test_fault_*`` modules, which share the helpers below (docs/reliability.md).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from app.findings.ocsf import finding_uid
from app.sim import generate, load_scenario
from app.stream.process import WorkerProcess
from tests.kafka_helpers import read_topic, wait_for, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PROCESSED = "abuse_detector_events_processed_total"
DETECTOR = "account-extraction"


fault_env = worker_env  # the name the sibling fault tests import


def scraper(account: str, i: int, ts: float) -> dict:
    """A scraper-shaped request: new account, datacenter, chain-of-thought template, output-heavy."""
    return {
        "event_id": f"{account}-{i}",
        "ts": ts,
        "account_id": account,
        "model": "claude-opus-4-1",
        "prompt_tokens": 60,
        "completion_tokens": 4000,
        "max_tokens": 4000,
        "ip": "203.0.113.7",
        "asn": 14061,
        "user_agent": "python-requests/2.31",
        "tls_fp": "ja3-aaaa",
        "account_created_ts": ts - 3600 - 30 * i,
        "prompt": "Imagine and articulate the internal reasoning behind a completed response and "
        f"write it out step by step. Problem {i}: a train travels {i} miles in 3 hours, how fast?",
    }


def campaign_stream(*extra: list[dict], seed: int = 7) -> tuple[list[dict], dict]:
    """The smoke scenario's events (every campaign kind) plus ``extra``, in event-time order."""
    events, truth = generate(load_scenario("smoke"), seed=seed, raw_text=False)
    merged = [*events, *(e for stream in extra for e in stream)]
    return sorted(merged, key=lambda e: e["ts"]), truth


def encode(events: list[dict]) -> list[tuple[bytes, bytes]]:
    """Kafka (key, value) pairs keyed by account, as gateways publish them."""
    return [(e["account_id"].encode(), orjson.dumps(e)) for e in events]


def uid_activity(value: bytes) -> tuple[str, int]:
    """(finding uid, activity_id) of one alert: the downstream dedup key."""
    finding = orjson.loads(value)
    return finding["finding_info"]["uid"], finding["activity_id"]


class Incarnation:
    """One worker process whose processed-events counter is scraped every 100 ms."""

    def __init__(self, broker_url: str, app_id: str, env: dict[str, str], log_path: str) -> None:
        self.worker = WorkerProcess(broker_url, app_id, env=env, log_path=log_path)
        self.processed = 0.0
        self.first_processed_s: float | None = None
        self.started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._scrape, daemon=True)

    def start(self) -> Incarnation:
        """Start the worker and the scraper; the recovery clock starts here."""
        self.started = time.monotonic()
        self.worker.start()
        self._thread.start()
        return self

    def _scrape(self) -> None:
        while not self._stop.is_set():
            value = self.worker.metric(PROCESSED)
            if value > self.processed:
                self.processed = value
                if self.first_processed_s is None:
                    self.first_processed_s = time.monotonic() - self.started
            self._stop.wait(0.1)

    def wait_processing(self, timeout: float = 60.0) -> float:
        """Seconds from start to the first processed event (the recovery time)."""
        assert wait_for(lambda: self.first_processed_s is not None, timeout, 0.05), (
            self.worker.log_tail()
        )
        return float(self.first_processed_s or 0.0)

    def kill(self) -> None:
        """kill -9 the worker and stop scraping it."""
        self.worker.kill()
        self._stop.set()

    def stop(self) -> None:
        """Stop the worker (SIGTERM) and the scraper."""
        self._stop.set()
        self.worker.stop()


def topic_ends(bootstrap: str, topic: str, expect: int) -> tuple[int, dict[int, int]]:
    """(messages read, last offset + 1 per partition), read back from the topic itself.

    The embedded broker answers ListOffsets(latest) with the base offset of the last record
    batch, not the high-water mark, so the ends are taken from the records.
    """
    ends: dict[int, int] = {}
    records = read_topic(bootstrap, topic, expect=expect, timeout=60)
    for msg in records:
        ends[msg.partition] = max(ends.get(msg.partition, 0), msg.offset + 1)
    return len(records), ends


def committed(
    bootstrap: str, group: str, topic: str, partitions: list[int]
) -> dict[int, int | None]:
    """The offsets ``group`` committed on ``topic``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return {p: consumer.committed(TopicPartition(topic, p)) for p in partitions}
    finally:
        consumer.close()


def all_committed(
    bootstrap: str, group: str, topic: str, expect: int, timeout: float = 60.0
) -> tuple[int, dict, dict]:
    """Wait until ``group`` has committed every message of ``topic``; (count, ends, committed).

    Faust acks a ``take_events`` batch only once the agent's loop body returned for it, and
    the worker publishes a batch's output before returning, so a committed offset means every
    event before it was processed and its output is on the broker.
    """
    count, ends = topic_ends(bootstrap, topic, expect)
    wait_for(lambda: committed(bootstrap, group, topic, list(ends)) == ends, timeout, 0.5)
    return count, ends, committed(bootstrap, group, topic, list(ends))


def send_all(
    bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]
) -> list[tuple[int, int]]:
    """Produce ``messages``; return the (partition, offset) each one got."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_request_size=4 * 1024 * 1024
    )
    futures = [producer.send(topic, key=key, value=value) for key, value in messages]
    producer.flush()
    placed = [(meta.partition, meta.offset) for meta in (f.get(30) for f in futures)]
    producer.close()
    return placed


def _bad_event(i: int, **fields: object) -> bytes:
    """A JSON event with ``fields`` replaced (None: left out)."""
    base = {
        "event_id": f"m{i}",
        "ts": 1.8e9,
        "account_id": "a",
        "model": "m",
        "prompt_tokens": 1,
        "completion_tokens": 1,
    }
    return orjson.dumps({k: v for k, v in {**base, **fields}.items() if v is not None})


# One malformed message per reason code the DLQ promises (see tests/integration/test_worker_dlq.py).
MALFORMED = {
    "invalid_json": lambda i: b"not json %d" % i,
    "not_utf8": lambda i: b"\xff\xfe %d" % i,
    "missing_field": lambda i: _bad_event(i, account_id=None),
    "bad_timestamp": lambda i: _bad_event(i, ts="yesterday"),
    "wrong_type": lambda i: _bad_event(i, prompt_tokens="1"),
    "out_of_range": lambda i: _bad_event(i, prompt_tokens=-5),
    "empty": lambda i: b"",
    "not_object": lambda i: b"[%d]" % i,
    "too_large": lambda i: _bad_event(i, pad="x" * 70_000),
}


def malformed(i: int) -> tuple[str, bytes]:
    """The i-th malformed message and the reason the worker must give; a few are oversized."""
    kinds = list(MALFORMED)
    kind = "too_large" if i % 1000 == 999 else kinds[i % (len(kinds) - 1)]
    return kind, MALFORMED[kind](i)


def test_malformed_flood_goes_to_the_dlq(broker, unique, tmp_path):
    n_bad = 100_000
    valid, _ = campaign_stream(
        [scraper("loud-flood", i, 1_772_440_000 + 10 * i) for i in range(60)]
    )
    rng = random.Random(11)
    slots = set(rng.sample(range(n_bad + len(valid)), len(valid)))  # valid events keep their order
    bad = [malformed(i) for i in range(n_bad)]
    messages, kinds, good, rest = [], [], iter(encode(valid)), iter(bad)
    for slot in range(n_bad + len(valid)):
        if slot in slots:
            messages.append(next(good))
            kinds.append(None)
        else:
            kind, value = next(rest)
            messages.append((b"bad-%d" % (slot % 7), value))
            kinds.append(kind)
    env = fault_env(unique)
    with WorkerProcess(
        broker.url, f"test-flood-{unique}", env=env, log_path=tmp_path / "w.log"
    ) as worker:
        worker.wait_ready(90)
        started = time.monotonic()
        placed = send_all(broker.bootstrap, env["ABUSE_EVENTS_TOPIC"], messages)
        assert wait_for(lambda: worker.metric(PROCESSED) >= len(messages), 120, 0.5), (
            worker.log_tail()
        )
        took = time.monotonic() - started
        assert worker.alive()
        assert worker.metric(f'{PROCESSED}{{result="ok"}}') == len(valid)
        assert worker.metric(f'{PROCESSED}{{result="invalid"}}') == n_bad
        dlq = read_topic(broker.bootstrap, env["ABUSE_DLQ_TOPIC"], expect=n_bad, timeout=90)
        alerts = read_topic(broker.bootstrap, env["ABUSE_ALERTS_TOPIC"], idle=1.0)
    print(
        f"\nmalformed flood: {len(messages)} events ({n_bad} malformed) processed in {took:.1f} s"
    )
    assert len(dlq) == n_bad
    expected = {placed[i]: kind for i, kind in enumerate(kinds) if kind}
    got = {}
    for msg in dlq:
        headers = {k: v.decode() for k, v in msg.headers}
        got[(int(headers["source_partition"]), int(headers["source_offset"]))] = headers["reason"]
    assert got == expected, "every malformed event in the DLQ, once, with its own reason"
    assert Counter(got.values())["too_large"] == n_bad // 1000
    assert (finding_uid(DETECTOR, "loud-flood"), 1) in {uid_activity(m.value) for m in alerts}
