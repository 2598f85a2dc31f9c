"""The worker on a real (embedded) broker: valid events processed, bad ones dead-lettered."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from kafka import KafkaAdminClient

from app.stream.process import WorkerProcess
from tests.kafka_helpers import produce, read_topic, wait_for, worker_env

pytestmark = pytest.mark.integration

CANARY = "zq-canary-7f3a9c-do-not-leak"


def _valid(i: int) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"e{i}",
            "ts": 1_769_940_000 + i,
            "account_id": f"acct-{i % 7}",
            "model": "model-a",
            "prompt_tokens": 100 + i,
            "completion_tokens": 400,
            "prompt": f"{CANARY} explain step by step {i}",
            "system_prompt": f"You are helpful. {CANARY}",
        }
    )


MALFORMED = [
    b"this is not json",
    b"\xff\xfe\xfa not utf-8",
    orjson.dumps(
        {
            "event_id": "m1",
            "ts": 1_769_940_000,
            "model": "m",
            "prompt_tokens": 1,
            "completion_tokens": 1,
        }
    ),
    orjson.dumps(
        {
            "event_id": "m2",
            "ts": "yesterday",
            "account_id": "a",
            "model": "m",
            "prompt_tokens": 1,
            "completion_tokens": 1,
        }
    ),
    orjson.dumps(
        {
            "event_id": "m3",
            "ts": 1_769_940_000,
            "account_id": "a",
            "model": "m",
            "prompt_tokens": "1",
            "completion_tokens": 1,
        }
    ),
    orjson.dumps(
        {
            "event_id": "m4",
            "ts": 1_769_940_000,
            "account_id": "a",
            "model": "m",
            "prompt_tokens": -5,
            "completion_tokens": 1,
            "prompt": CANARY,
        }
    ),
    b'{"event_id": "m5", "prompt": "' + CANARY.encode() + b'", "ts": ' + b"1" * 1_000_000 + b"}",
    b"",
    b"[1, 2, 3]",
]


@pytest.fixture
def worker(broker, unique, tmp_path):
    env = worker_env(unique)
    with WorkerProcess(
        broker.url, f"test-dlq-{unique}", env=env, log_path=tmp_path / "worker.log"
    ) as proc:
        proc.wait_ready(90)
        yield proc, env


def test_valid_processed_and_malformed_dead_lettered(broker, worker):
    proc, env = worker
    n_valid = 300
    messages = [(f"acct-{i % 7}".encode(), _valid(i)) for i in range(n_valid)]
    for j, bad in enumerate(MALFORMED):
        messages.insert(j * 30 + 5, (b"bad", bad))
    produce(broker.bootstrap, env["ABUSE_EVENTS_TOPIC"], messages)

    assert wait_for(
        lambda: proc.metric("abuse_detector_events_processed_total") >= n_valid + len(MALFORMED), 60
    )
    assert proc.metric('abuse_detector_events_processed_total{result="ok"}') == n_valid
    assert proc.metric('abuse_detector_events_processed_total{result="invalid"}') == len(MALFORMED)

    dlq = read_topic(broker.bootstrap, env["ABUSE_DLQ_TOPIC"], expect=len(MALFORMED))
    assert len(dlq) == len(MALFORMED)
    reasons = []
    for msg in dlq:
        headers = {k: v.decode() for k, v in msg.headers}
        assert headers["source_topic"] == env["ABUSE_EVENTS_TOPIC"]
        assert int(headers["source_offset"]) >= 0
        assert len(headers["detail"]) > 10  # a readable sentence, not just a code
        reasons.append(headers["reason"])
    assert sorted(reasons) == sorted(
        [
            "invalid_json",
            "not_utf8",
            "missing_field",
            "bad_timestamp",
            "wrong_type",
            "out_of_range",
            "too_large",
            "empty",
            "not_object",
        ]
    )
    assert proc.alive(), "the worker must survive malformed input"

    # Privacy: the raw prompt text reached the worker, but nothing it wrote carries it:
    # not the DLQ, not the alerts, not the internal signal and changelog topics.
    time.sleep(2)  # let one checkpoint write the changelog tables
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    topics = [t for t in admin.list_topics() if t != env["ABUSE_EVENTS_TOPIC"]]
    admin.close()
    assert any(t.endswith("-account-state-changelog") for t in topics)
    written = []
    for topic in topics:
        for msg in read_topic(broker.bootstrap, topic, idle=0.5, timeout=10):
            written += [msg.key or b"", msg.value or b""] + [v for _, v in msg.headers]
    assert len(written) > len(MALFORMED)
    assert all(CANARY.encode() not in blob for blob in written)
    _, metrics_text = proc.get("/metrics")
    assert CANARY not in metrics_text
    assert CANARY not in proc.log_tail(10_000_000)


def test_a_malformed_internal_signal_message_is_dead_lettered(broker, worker, unique):
    # Only workers write the signal topic; a message there that is not [signal, keys]
    # entries is kept in the DLQ with its source, and the worker goes on.
    proc, env = worker
    signals = f"test-dlq-{unique}-account-signals"
    bad = [b"not json at all", orjson.dumps({"not": "a list"}), orjson.dumps([[{"ts": 1}, ["k"]]])]
    produce(broker.bootstrap, signals, [(b"signals-0", v) for v in bad])
    dlq = read_topic(broker.bootstrap, env["ABUSE_DLQ_TOPIC"], expect=len(bad))
    assert len(dlq) == len(bad)
    for msg in dlq:
        headers = {k: v.decode() for k, v in msg.headers}
        assert headers["reason"] == "internal_signal"
        assert headers["source_topic"] == signals
        assert "internal signal message" in headers["detail"]
    assert sorted(m.value for m in dlq) == sorted(bad)
    assert proc.metric('abuse_detector_dlq_events_total{reason="internal_signal"}') == len(bad)
    # and it still processes events afterwards
    produce(broker.bootstrap, env["ABUSE_EVENTS_TOPIC"], [(b"acct-1", _valid(1))])
    assert wait_for(lambda: proc.metric("abuse_detector_events_processed_total") >= 1, 30)
    assert proc.alive()


def test_a_signal_the_core_fails_on_is_dead_lettered_and_the_worker_goes_on(
    broker, unique, tmp_path
):
    # Coordination raises on every signal of one account (a core bug, injected through
    # tests/integration/faulty_core): the signal is kept in the DLQ as the signal message
    # it would have been, as processing_error, and the worker does not stop: it goes on.
    env = {
        **worker_env(unique),
        "FAULT_INJECT_ACCOUNT": "boom",
        "PYTHONPATH": str(Path(__file__).parent / "faulty_core"),
    }
    app_id, log = f"test-fault-{unique}", tmp_path / "worker.log"
    boom = orjson.dumps({**orjson.loads(_valid(0)), "account_id": "boom", "event_id": "b0"})
    with WorkerProcess(broker.url, app_id, env=env, log_path=log) as proc:
        proc.wait_ready(90)
        produce(broker.bootstrap, env["ABUSE_EVENTS_TOPIC"], [(b"boom", boom)])
        dlq = read_topic(broker.bootstrap, env["ABUSE_DLQ_TOPIC"], expect=1, timeout=60)
        assert len(dlq) == 1
        headers = {k: v.decode() for k, v in dlq[0].headers}
        assert headers["reason"] == "processing_error"
        assert headers["source_topic"] == f"{app_id}-account-signals"
        assert headers["source_offset"] == "-1", "observed in the worker, never on the topic"
        entries = orjson.loads(dlq[0].value)
        assert [body[0] for body, _ in entries] == ["boom"], "the message holds boom's signal"
        produce(
            broker.bootstrap,
            env["ABUSE_EVENTS_TOPIC"],
            [(b"acct-1", _valid(i)) for i in range(1, 11)],
        )
        ok = 'abuse_detector_events_processed_total{result="ok"}'
        assert wait_for(lambda: proc.metric(ok) == 11, 30), proc.log_tail()
        assert proc.metric('abuse_detector_events_processed_total{result="invalid"}') == 0
        # Their signals reach coordination: seven accounts share the system prompt, so its
        # group forms once a second account signals (refreshed every 5 s).
        assert wait_for(lambda: proc.metric("abuse_detector_groups_tracked") >= 1, 30)
        # A lone worker owns every signal partition: its signals are observed where they
        # are made, and none goes through the signal topic.
        assert read_topic(broker.bootstrap, f"{app_id}-account-signals", idle=0.5) == []
        assert proc.alive(), proc.log_tail()
        assert proc.metric('abuse_detector_dlq_events_total{reason="processing_error"}') == 1
        assert len(read_topic(broker.bootstrap, env["ABUSE_DLQ_TOPIC"], idle=1.0)) == 1
    text = log.read_text()
    assert text.count("coordination failed on a signal") == 1
    assert "fault injected by the test" in text
