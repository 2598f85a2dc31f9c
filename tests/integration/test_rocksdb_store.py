"""A worker on Faust's RocksDB table store (ABUSE_STORE_URL=rocksdb://, the README's
production setting) checkpoints its state, each key into its partition's store.

Faust's RocksDB store files each write under the partition of the event being processed
and refuses a write made outside a stream; the worker writes from its batch handlers and
its checkpoint timer, so every table write names its partition (``table_writer``).

A restart is not tested here: the embedded broker reports changelog end offsets below
the records it serves (docs/reliability.md), which Faust's recovery of a RocksDB store
takes for lost data (``ConsistencyError``).
"""

from __future__ import annotations

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
    # a restart's recovery refills the same store.
    kept: dict[str, int] = {}
    for path in sorted((tmp_path / "data").rglob("*.db")):
        table, partition = path.stem.rsplit("-", 1)
        db = rocksdict.Rdict(str(path), access_type=rocksdict.AccessType.read_only())
        try:
            keys = [k for k in db.keys() if not k.startswith(b"__faust")]  # noqa: SIM118 - Rdict
        finally:
            db.close()
        assert all(partition_of(k, partitions) == int(partition) for k in keys), path.name
        kept[table] = kept.get(table, 0) + len(keys)
    print(f"\nrocksdb store: {len(events)} events; keys per table {kept}")
    for table in ("account-state", "finding-records", "campaign-links", "coordination-groups"):
        assert kept.get(table, 0) > 0, (table, kept)
