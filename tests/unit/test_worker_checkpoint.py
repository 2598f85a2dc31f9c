"""The worker's checkpoint and the closes it publishes.

A closed finding's record becomes a closing record (the close itself) before the close is
published and is emptied once the close is on the broker, so a crash in between loses no
close: the restarted worker publishes it again. A close whose publish failed goes out at a
later publish (the policy has let go of the finding), and one the broker keeps refusing is
given up on, loudly, instead of being held for ever. The producer is a stand-in here (no
broker); the worker's own publish runs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from app.core.types import Detection, Evidence
from app.findings.ocsf import ACTIVITY_CLOSE, ACTIVITY_NEW, finding_uid
from app.findings.policy import Closing
from app.settings import load_settings
from app.stream.pipeline import BatchOutput
from app.stream.worker import UNSENT_TRIES, DetectorWorker

T0 = 1_769_940_000.0
UID = finding_uid("account-extraction", "acct-1")
QUIET = T0 + 2 * 3600  # a watermark past the close period of a finding last seen at T0


class Producer:
    """Takes sends like the app's producer; refuses them while ``fails[0]``."""

    def __init__(self, fails: list[bool]) -> None:
        self.fails = fails
        self.alerts: list[dict[str, Any]] = []

    async def send(self, topic: str, key: Any, value: bytes, *_: Any) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fails[0]:
            done.set_exception(TimeoutError("the broker did not acknowledge"))
        else:
            if topic == "alerts":
                self.alerts.append(orjson.loads(value))
            done.set_result(None)
        return done

    async def flush(self) -> None:
        if self.fails[0]:
            raise TimeoutError("the broker did not acknowledge")


def _worker(
    tmp_path, fails: list[bool], finding_table: dict[bytes, bytes] | None = None
) -> tuple[DetectorWorker, dict[bytes, bytes], Producer]:
    """A worker whose tables are dicts (``finding_table`` its finding records) and whose
    producer refuses sends while ``fails[0]``."""
    settings = load_settings(data_dir=str(tmp_path), metrics_port=0, alerts_topic="alerts")
    worker = DetectorWorker(settings)
    findings = {} if finding_table is None else finding_table
    worker.finding_table = findings
    worker._put_finding = lambda key, value, partition: findings.__setitem__(key, value)
    worker.owned_partitions = lambda: set(range(worker.settings.partitions))
    for name in ("link", "group"):
        setattr(worker, f"_put_{name}", {}.__setitem__)
    producer = Producer(fails)
    worker.app.producer = producer
    return worker, findings, producer


def _open(worker: DetectorWorker, ts: float = T0) -> None:
    detection = Detection("account-extraction", "acct-1", 0.9, ts, ts, [Evidence("x", 1, 0, 1)])
    out = BatchOutput()
    worker.pipeline.apply_detections([detection], out)
    assert out.findings, "the finding opens"
    asyncio.run(worker.publish(out))


def _close_with_the_broker_down(worker: DetectorWorker, fails: list[bool]) -> None:
    """Open the finding, let it go quiet, and run a checkpoint whose publish fails."""
    _open(worker)
    worker.close_watermark = lambda now: QUIET
    fails[0] = True
    with pytest.raises(TimeoutError):
        asyncio.run(worker.checkpoint())


def _activities(producer: Producer) -> list[int]:
    return [f["activity_id"] for f in producer.alerts if f["finding_info"]["uid"] == UID]


def test_a_close_is_kept_in_its_record_until_it_is_on_the_broker(tmp_path) -> None:
    fails = [False]
    worker, table, producer = _worker(tmp_path, fails)
    _close_with_the_broker_down(worker, fails)
    # Written before the publish: the close itself, not the open record a batch handled
    # meanwhile could load back.
    stored = orjson.loads(table[UID.encode()])
    assert stored["closing"]["activity_id"] == ACTIVITY_CLOSE
    assert isinstance(worker.policy.import_record(table[UID.encode()]), Closing)
    assert UID not in worker.policy.records
    fails[0] = False
    asyncio.run(worker.checkpoint())
    assert _activities(producer) == [ACTIVITY_NEW, ACTIVITY_CLOSE]
    assert table[UID.encode()] == b"", "emptied once the close is out"
    asyncio.run(worker.checkpoint())
    assert _activities(producer) == [ACTIVITY_NEW, ACTIVITY_CLOSE], "sent once"


def test_a_close_lost_to_a_crash_is_published_by_the_restarted_worker(tmp_path) -> None:
    fails = [False]
    worker, table, _ = _worker(tmp_path, fails)
    _close_with_the_broker_down(worker, fails)  # the worker dies with the close on its way

    restarted, table, producer = _worker(tmp_path / "again", [False], finding_table=table)
    assert restarted.restore_open_findings() == 0, "no open finding to restore"
    assert restarted.restore_open_findings() == 0 and len(restarted._unsent) == 1, "queued once"
    # The close goes out ahead of the first batch's findings: a new lifecycle of the same
    # finding, opened after the restart, reaches a consumer after the close.
    _open(restarted, ts=QUIET + 60)
    assert _activities(producer) == [ACTIVITY_CLOSE, ACTIVITY_NEW]
    # The finding is open again: its record is the open one, not emptied.
    asyncio.run(restarted.checkpoint())
    assert orjson.loads(table[UID.encode()])["uid"] == UID


def test_a_finding_reopened_before_its_close_went_out_gets_its_open_record_at_once(
    tmp_path,
) -> None:
    """Kept until the next checkpoint, the closing record would make a worker that crashed
    in between send the old close again after the new lifecycle's create."""
    fails = [False]
    worker, table, producer = _worker(tmp_path, fails)
    _close_with_the_broker_down(worker, fails)
    fails[0] = False
    _open(worker, ts=QUIET + 60)  # the close goes out with this batch, ahead of the new one
    assert _activities(producer) == [ACTIVITY_NEW, ACTIVITY_CLOSE, ACTIVITY_NEW]
    assert orjson.loads(table[UID.encode()])["uid"] == UID
    assert worker._closing == {}


def test_a_finding_the_broker_keeps_refusing_is_dropped_with_an_error(tmp_path, caplog) -> None:
    fails = [False]
    worker, table, producer = _worker(tmp_path, fails)
    _open(worker)
    worker.close_watermark = lambda now: QUIET
    fails[0] = True
    with caplog.at_level(logging.ERROR, logger="app.stream.worker"):
        for _ in range(UNSENT_TRIES):
            with pytest.raises(TimeoutError):
                asyncio.run(worker.checkpoint())
    assert worker._unsent == []
    dropped = [r.getMessage() for r in caplog.records if "dropping" in r.getMessage()]
    assert len(dropped) == 1 and UID in dropped[0]
    assert _activities(producer) == [ACTIVITY_NEW]
    # The closing record stays: a restarted worker, or the next recovery, offers it again.
    assert worker.restore_open_findings() == 0 and len(worker._unsent) == 1
