"""The broker frozen for 30 seconds (SIGSTOP, then SIGCONT) while a campaign stream flows.

The embedded broker keeps its data in memory only, so a restart of it would be another
test; a freeze is the outage a network partition or a stalled broker host gives. The test
owns its broker, so the freeze cannot touch other tests.
"""

from __future__ import annotations

import random
import signal
import threading
import time

import pytest
from kafka import KafkaProducer

from app.broker import EmbeddedBroker
from app.findings.ocsf import finding_uid
from tests.integration.test_fault_tolerance import (
    DETECTOR,
    PROCESSED,
    Incarnation,
    all_committed,
    campaign_stream,
    encode,
    fault_env,
    scraper,
)
from tests.kafka_helpers import read_topic, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FREEZE_S = 30.0


class Gateway(threading.Thread):
    """Produces the stream at about 1,000 events/s; a stalled broker only makes its sends wait."""

    def __init__(self, bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.messages = bootstrap, topic, messages
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            producer = KafkaProducer(
                bootstrap_servers=self.bootstrap,
                linger_ms=5,
                request_timeout_ms=90_000,
                delivery_timeout_ms=180_000,
                max_block_ms=120_000,
            )
            for i in range(0, len(self.messages), 100):
                for key, value in self.messages[i : i + 100]:
                    producer.send(self.topic, key=key, value=value)
                self.sent = i + 100
                time.sleep(0.1)
            producer.flush(120)
            producer.close()
        except BaseException as exc:  # surfaced by the test
            self.error = exc


def test_worker_rides_out_a_frozen_broker(unique, tmp_path):
    rng = random.Random(30)
    _, truth = campaign_stream()
    t0, t_end = truth["start_ts"], truth["end_ts"]
    # loud-after's requests all come in the last quarter of the stream: after the outage.
    after = [scraper("loud-after", i, t_end - 5000 + 20 * i) for i in range(60)]
    events, _ = campaign_stream(
        [scraper("loud-before", i, t0 + 60 + 10 * i) for i in range(30)], after
    )
    messages = encode(events)
    env, app_id = fault_env(unique), f"test-outage-{unique}"
    with EmbeddedBroker() as broker:
        life = Incarnation(broker.url, app_id, env, str(tmp_path / "w.log")).start()
        gateway = Gateway(broker.bootstrap, env["ABUSE_EVENTS_TOPIC"], messages)
        frozen = False
        try:
            life.worker.wait_ready(90)
            pid = life.worker.pid
            gateway.start()
            assert wait_for(lambda: life.processed > 0 or not gateway.is_alive(), 60), (
                life.worker.log_tail()
            )
            assert gateway.error is None, gateway.error
            time.sleep(rng.uniform(2.0, 5.0))
            assert gateway.sent < len(messages) * 0.6, "the outage must come mid-stream"
            at_freeze = life.processed
            broker.proc.send_signal(signal.SIGSTOP)
            frozen = True
            time.sleep(FREEZE_S)
            at_thaw = life.processed
            broker.proc.send_signal(signal.SIGCONT)
            frozen, resumed_at, resumed_wall = False, time.monotonic(), time.time() * 1000
            assert wait_for(lambda: life.processed > at_thaw, 60, 0.05), life.worker.log_tail()
            resume_s = time.monotonic() - resumed_at
            gateway.join(180)
            assert gateway.error is None and not gateway.is_alive(), gateway.error
            read, ends, committed = all_committed(
                broker.bootstrap, app_id, env["ABUSE_EVENTS_TOPIC"], len(messages)
            )
            drained_s = time.monotonic() - resumed_at
            uid = finding_uid(DETECTOR, "loud-after")
            alerts = env["ABUSE_ALERTS_TOPIC"]
            assert wait_for(
                lambda: any(
                    m.key == uid.encode() for m in read_topic(broker.bootstrap, alerts, idle=0.5)
                ),
                30,
            )
            found = read_topic(broker.bootstrap, alerts, idle=1.0)
            ok = life.worker.metric(f'{PROCESSED}{{result="ok"}}')
            stalls = life.worker.metric("abuse_detector_worker_stalls_total")
            assert life.worker.alive() and life.worker.pid == pid, (
                "the same worker process, no restart"
            )
        finally:
            if frozen:
                broker.proc.send_signal(signal.SIGCONT)
            life.stop()
    print(
        f"\nbroker frozen {FREEZE_S:.0f} s after {at_freeze:.0f} of {len(messages)} events processed "
        f"({at_thaw - at_freeze:.0f} more while frozen); processing resumed {resume_s:.1f} s after SIGCONT, "
        f"all committed {drained_s:.1f} s after it; ok={ok:.0f}; stalls reported {stalls:.0f}"
    )
    assert read == len(messages) and committed == ends, f"committed {committed}, topic ends {ends}"
    # The freeze is a stall the worker reports (ABUSE_STALL_SECONDS=10): once, with where each
    # agent and task waits, the offsets, no event content, and it says so when it is
    # processing again.
    log = (tmp_path / "w.log").read_text()
    report = log[log.index("worker stalled") :].split("worker processing again")[0]
    assert "worker processing again after a stall" in log, log[-3000:]
    assert log.count("worker stalled") == 1 and stalls == 1
    # Where the fetch loop waits (in a batch's send, or for records while a commit hangs)
    # and the offsets.
    assert "_drain_messages" in report and "_commit_handler" in report, report[:3000]
    assert f"{env['ABUSE_EVENTS_TOPIC']}[0] read " in report, report[:3000]
    assert "loud-" not in report and "acct_" not in report
    assert ok >= len(messages), "every valid event processed"
    assert 0 < at_freeze < len(messages)
    owners = {m.key for m in found}
    assert finding_uid(DETECTOR, "loud-before").encode() in owners
    assert any(m.key == uid.encode() and m.timestamp > resumed_wall for m in found), (
        "detection after the outage"
    )
