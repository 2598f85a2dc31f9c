"""State follows partition ownership across workers.

A finding record is stored under its finding's home partition (the account's, or the signal
partition of a campaign's first group), so the worker that owns the account restores it;
a worker restores only the records of partitions it owns, hands its state over at a
rebalance, and lets go of the accounts and findings of partitions that went elsewhere.
"""

from __future__ import annotations

import asyncio

import orjson
from faust.types import TP

from app.core.features import AccountState
from app.core.types import Detection, Evidence
from app.findings.ocsf import finding_uid
from app.stream.pipeline import BatchOutput, key_partition, partition_of
from tests.unit.test_worker_checkpoint import T0, _worker

PARTITIONS = 4


def _detect(worker, subject: str, labels: dict[str, str] | None = None) -> str:
    detection = Detection(
        "account-extraction" if labels is None else "hydra-cluster", subject, 0.9, T0, T0,
        [Evidence("x", 1, 0, 1)], labels=labels or {},
    )  # fmt: skip
    out = BatchOutput()
    worker.pipeline.apply_detections([detection], out)
    asyncio.run(worker.publish(out))
    return finding_uid(detection.detector, subject)


def _subject_on(partition: int) -> str:
    return next(
        s for i in range(1000) if partition_of((s := f"acct-{i}").encode(), PARTITIONS) == partition
    )


def test_a_finding_record_is_stored_under_its_home_partition(tmp_path) -> None:
    worker, table, _ = _worker(tmp_path, [False])
    homes: dict[bytes, int] = {}
    worker._put_finding = lambda key, value, partition: homes.__setitem__(key, partition)
    account = _detect(worker, "acct-7")
    campaign = _detect(worker, "campaign-1", {"keys": "net:10.1.2,client:ab"})
    asyncio.run(worker.checkpoint())
    assert homes[account.encode()] == partition_of(b"acct-7", PARTITIONS)
    assert homes[campaign.encode()] == key_partition("net:10.1.2", PARTITIONS)
    assert worker.policy.records[account].home == partition_of(b"acct-7", PARTITIONS)


def test_a_worker_restores_only_the_records_of_partitions_it_owns(tmp_path) -> None:
    first, table, _ = _worker(tmp_path, [False])
    subjects = [_subject_on(p) for p in range(PARTITIONS)]
    uids = [_detect(first, s) for s in subjects]
    asyncio.run(first.checkpoint())
    assert all(orjson.loads(table[u.encode()])["uid"] == u for u in uids)

    other, _, _ = _worker(tmp_path / "other", [False], finding_table=table)
    other.owned_partitions = lambda: {1, 3}
    assert other.restore_open_findings() == 2
    assert set(other.policy.records) == {uids[1], uids[3]}


def test_a_rebalance_hands_state_over_and_lets_go_of_lost_partitions(tmp_path) -> None:
    worker, table, _ = _worker(tmp_path, [False])
    events = worker.settings.events_topic
    subjects = [_subject_on(p) for p in range(PARTITIONS)]
    for s in subjects:
        worker.engine.accounts.accounts[s] = AccountState()
    uids = [_detect(worker, s) for s in subjects]
    app = worker.app
    asyncio.run(app.on_partitions_assigned.send({TP(events, p) for p in range(PARTITIONS)}))

    # Revoked: what changed since the last checkpoint is written for the next owners.
    asyncio.run(app.on_partitions_revoked.send({TP(events, p) for p in range(PARTITIONS)}))
    assert {k.decode() for k in table} == set(uids)
    # Reassigned without partitions 0 and 2: their accounts and findings are let go of.
    asyncio.run(app.on_partitions_assigned.send({TP(events, 1), TP(events, 3)}))
    assert set(worker.engine.accounts.accounts) == {subjects[1], subjects[3]}
    assert set(worker.policy.records) == {uids[1], uids[3]}
    assert worker.ready()
