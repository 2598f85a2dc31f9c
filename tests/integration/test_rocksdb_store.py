"""A worker on Faust's RocksDB table store (ABUSE_STORE_URL=rocksdb://, the README's
production setting) checkpoints its state, each key into its partition's store.

Faust's RocksDB store files each write under the partition of the event being processed
and refuses a write made outside a stream; the worker writes from its batch handlers and
its checkpoint timer, so every table write names its partition (``table_writer``).

A kill -9 and restart on the same data directory is tested too. Workers here run with
Faust's recovery consistency check off (``ABUSE_RECOVERY_CONSISTENCY_CHECK``, as
``WorkerProcess`` sets it): the embedded broker reports changelog end offsets below the
records it serves (docs/reliability.md), which the check takes for lost data.
"""

from __future__ import annotations

import re
import time

import pytest

from app.findings.ocsf import finding_uid
from app.stream.pipeline import partition_of
from app.stream.process import WorkerProcess
from tests.integration.test_fault_tolerance import (
    DETECTOR,
    PROCESSED,
    campaign_stream,
    encode,
    fault_env,
    scraper,
    send_all,
    uid_activity,
)
from tests.kafka_helpers import read_topic, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_worker_on_rocksdb_checkpoints_each_key_into_its_partition(broker, unique, tmp_path):
    rocksdict = pytest.importorskip("rocksdict", reason="the rocksdb extra is not installed")
    events, _ = campaign_stream(
        [scraper("loud-rocks", i, 1_772_440_000 + 10 * i) for i in range(60)]
    )
    env = {
        **fault_env(unique),
        "ABUSE_STORE_URL": "rocksdb://",
        "ABUSE_DATA_DIR": str(tmp_path / "data"),
    }
    partitions = int(env["ABUSE_PARTITIONS"])
    send_all(broker.bootstrap, env["ABUSE_EVENTS_TOPIC"], encode(events))
    log = tmp_path / "worker.log"
    with WorkerProcess(broker.url, f"test-rocks-{unique}", env=env, log_path=log) as worker:
        worker.wait_ready(90)
        assert wait_for(lambda: worker.metric(PROCESSED) >= len(events), 120, 0.5), (
            worker.log_tail()
        )
        time.sleep(3)  # a few checkpoints (1 s apart) after the last batch
        assert worker.alive(), worker.log_tail()
        alerts = read_topic(broker.bootstrap, env["ABUSE_ALERTS_TOPIC"], idle=1.0)
    text = log.read_text()
    assert "checkpoint failed" not in text and "AssertionError" not in text
    assert (finding_uid(DETECTOR, "loud-rocks"), 1) in {uid_activity(m.value) for m in alerts}
    # Each table's key sits in the store of the partition its changelog record went to, so
    # a restart's recovery refills the same store: the key's own partition, or for a
    # finding record its finding's home (the account's partition).
    uid = finding_uid(DETECTOR, "loud-rocks").encode()
    kept: dict[str, int] = {}
    homes: dict[bytes, int] = {}
    for path in sorted((tmp_path / "data").rglob("*.db")):
        table, partition = path.stem.rsplit("-", 1)
        db = rocksdict.Rdict(str(path), access_type=rocksdict.AccessType.read_only())
        try:
            keys = [k for k in db.keys() if not k.startswith(b"__faust")]  # noqa: SIM118 - Rdict
        finally:
            db.close()
        if table.endswith("finding-records"):
            homes.update(dict.fromkeys(keys, int(partition)))
        else:
            assert all(partition_of(k, partitions) == int(partition) for k in keys), path.name
        kept[table] = kept.get(table, 0) + len(keys)
    assert homes.get(uid) == partition_of(b"loud-rocks", partitions), homes
    print(f"\nrocksdb store: {len(events)} events; keys per table {kept}")
    for table in ("account-state", "finding-records", "campaign-links", "coordination-groups"):
        assert kept.get(table, 0) > 0, (table, kept)


def test_a_worker_on_rocksdb_restarts_from_its_stores_after_kill_9(broker, unique, tmp_path):
    """kill -9 of a worker on RocksDB, then a new worker on the same data directory (Faust
    reopens the stores and reads the changelog beyond the offsets they hold): it restores
    the campaign links, fired groups and open findings, and the loud account's finding,
    still open, goes on under its uid: no second create, and it closes after an hour of
    quiet."""
    pytest.importorskip("rocksdict", reason="the rocksdb extra is not installed")
    _, truth = campaign_stream()
    t0 = truth["end_ts"]  # the loud account comes last, so nothing closes its finding early
    events, _ = campaign_stream([scraper("loud-rocks", i, t0 + 10 * i) for i in range(60)])
    later = [scraper("loud-rocks", 60 + i, t0 + 900 + 10 * i) for i in range(60)]
    # An hour and more of quiet in event time: the finding closes.
    later.append({**scraper("quiet-rocks", 0, t0 + 6000), "prompt_tokens": 300, "prompt": "hi"})
    env = {
        **fault_env(unique),
        "ABUSE_STORE_URL": "rocksdb://",
        "ABUSE_DATA_DIR": str(tmp_path / "data"),
    }
    app_id, uid = f"test-rocks-kill-{unique}", finding_uid(DETECTOR, "loud-rocks")
    send_all(broker.bootstrap, env["ABUSE_EVENTS_TOPIC"], encode(events))
    first = WorkerProcess(broker.url, app_id, env=env, log_path=tmp_path / "w1.log").start()
    try:
        first.wait_ready(90)
        assert wait_for(lambda: first.metric(PROCESSED) >= len(events), 120, 0.5), first.log_tail()
        # The loud account's open record is in its changelog (checkpoints are 1 s apart),
        # then one more checkpoint for the rest.
        changelog = f"{app_id}-finding-records-changelog"
        assert wait_for(
            lambda: any(
                m.key == uid.encode() and m.value
                for m in read_topic(broker.bootstrap, changelog, idle=0.5)
            ),
            30,
            0.5,
        ), first.log_tail()
        time.sleep(1.5)
    finally:
        first.kill()
    stores = sorted(p.name for p in (tmp_path / "data").rglob("*.db"))
    assert stores, "the first worker left no RocksDB store"
    before = {
        uid_activity(m.value)
        for m in read_topic(broker.bootstrap, env["ABUSE_ALERTS_TOPIC"], idle=1.0)
    }
    assert (uid, 1) in before

    log = tmp_path / "w2.log"
    with WorkerProcess(broker.url, app_id, env=env, log_path=log) as second:
        second.wait_ready(90)
        send_all(broker.bootstrap, env["ABUSE_EVENTS_TOPIC"], encode(later))
        assert wait_for(lambda: second.metric(PROCESSED) >= len(later), 120, 0.5), second.log_tail()

        def alerts() -> list[tuple[str, int]]:
            topic = env["ABUSE_ALERTS_TOPIC"]
            return [uid_activity(m.value) for m in read_topic(broker.bootstrap, topic, idle=1.0)]

        wait_for(lambda: (uid, 3) in alerts(), 30, 1.0)
        assert second.alive(), second.log_tail()
        after = alerts()
    text = log.read_text()
    print(
        f"\nrocksdb restart: stores {len(stores)}; "
        + "; ".join(
            line.rsplit("] ", 1)[-1].strip() for line in text.splitlines() if "restored" in line
        )
    )
    assert "ConsistencyError" not in text and "checkpoint failed" not in text
    for what in ("campaign links", "fired coordination groups", "open findings"):
        found = re.findall(rf"restored (\d+) {what}", text)
        assert found and int(found[-1]) > 0, (what, second.log_tail())
    # A lost finding record would make the later requests open the finding a second time;
    # the close shows the restored record was still followed.
    assert after.count((uid, 1)) == 1, "a second create: the finding record was lost"
    assert (uid, 3) in after, "the restored finding never closed"
