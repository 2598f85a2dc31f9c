"""State follows partition ownership across workers.

A finding record is stored under its finding's home partition (the account's, or the signal
partition of a campaign's first group), so the worker that owns the account restores it;
a worker restores only the records of partitions it owns, hands its state over at a
rebalance, and lets go of the accounts and findings of partitions that went elsewhere.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
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


def test_nothing_is_written_to_a_lost_partition_after_the_rebalance(tmp_path) -> None:
    """A batch handled after the revocation's checkpoint makes a record dirty; once its
    partition went elsewhere, no later checkpoint writes it (it would overwrite the new
    owner's record)."""
    worker, _, _ = _worker(tmp_path, [False])
    writes: list[tuple[bytes, int]] = []
    worker._put_finding = lambda key, value, partition: writes.append((key, partition))
    events = worker.settings.events_topic
    app = worker.app
    everything = {TP(events, p) for p in range(PARTITIONS)}
    asyncio.run(app.on_partitions_assigned.send(everything))
    asyncio.run(app.on_partitions_revoked.send(everything))
    lost_subject = _subject_on(0)
    uid = _detect(worker, lost_subject)  # handled after the revocation's checkpoint
    asyncio.run(app.on_partitions_assigned.send({TP(events, 1), TP(events, 3)}))
    writes.clear()
    asyncio.run(worker.checkpoint())
    assert (uid.encode(), 0) not in writes and uid not in worker.policy.dirty


def test_a_campaign_finding_is_homed_on_a_partition_this_worker_owns(tmp_path) -> None:
    worker, _, _ = _worker(tmp_path, [False])
    keys = [f"net:10.0.{i}" for i in range(50)]
    first = keys[0]
    other = next(
        k for k in keys if key_partition(k, PARTITIONS) != key_partition(first, PARTITIONS)
    )
    worker._owned = {key_partition(other, PARTITIONS)}
    detection = Detection(
        "hydra-cluster", "campaign-2", 0.9, T0, T0, [], labels={"keys": f"{first},{other}"}
    )
    assert worker._home(detection) == key_partition(other, PARTITIONS)
    worker._owned = set()
    assert worker._home(detection) == key_partition(first, PARTITIONS), "none owned: the first"


def test_closes_restored_while_a_publish_waits_are_not_lost(tmp_path) -> None:
    """Table recovery can finish while a publish waits for the broker: the closes it queues
    must still go out (the publish removes only what it sent)."""
    first, table, _ = _worker(tmp_path, [False])
    uid = _detect(first, "acct-3")
    first.close_watermark = lambda now: T0 + 2 * 3600
    first.app.producer.fails[0] = True  # the close does not go out: its closing record stays
    with pytest.raises(TimeoutError):
        asyncio.run(first.checkpoint())

    worker, _, producer = _worker(tmp_path / "again", [False], finding_table=table)
    held: list[asyncio.Future[None]] = []

    async def send(topic: str, key: Any, value: bytes, *_: Any) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        held.append(done)
        return done

    async def scenario() -> None:
        worker.app.producer.send = send
        out = BatchOutput()
        other = Detection("account-extraction", "acct-9", 0.9, T0, T0, [Evidence("x", 1, 0, 1)])
        worker.pipeline.apply_detections([other], out)
        publishing = asyncio.create_task(worker.publish(out))
        await asyncio.sleep(0)
        assert held, "the publish waits for the broker"
        assert worker.restore_open_findings() == 0 and len(worker._unsent) == 1
        for done in held:
            done.set_result(None)
        await publishing

    asyncio.run(scenario())
    assert [f["finding_info"]["uid"] for f in worker._unsent] == [uid], "still to go out"
