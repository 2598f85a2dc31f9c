"""The worker's checkpoint: a close whose publish failed is sent at the next checkpoint,
and the finding's record is emptied only once the close is on the broker."""

from __future__ import annotations

import asyncio

import pytest

from app.core.types import Detection, Evidence
from app.findings.ocsf import finding_uid
from app.settings import load_settings
from app.stream.pipeline import BatchOutput
from app.stream.worker import DetectorWorker

T0 = 1_769_940_000.0


def test_a_close_whose_publish_failed_goes_out_at_the_next_checkpoint(tmp_path) -> None:
    worker = DetectorWorker(load_settings(data_dir=str(tmp_path), metrics_port=0))
    tables: dict[str, dict[bytes, bytes]] = {"account": {}, "finding": {}, "link": {}, "group": {}}
    for name, table in tables.items():  # the tables as plain dicts: no broker here
        setattr(worker, f"_put_{name}", table.__setitem__)
    detection = Detection("account-extraction", "acct-1", 0.9, T0, T0, [Evidence("x", 1, 0, 1)])
    assert worker.policy.apply(detection), "the finding opens"
    worker.close_watermark = lambda now: T0 + 2 * 3600  # quiet for longer than the close period
    sent: list[BatchOutput] = []
    broker_down = [True]

    async def publish(out: BatchOutput) -> None:
        if broker_down[0]:
            raise TimeoutError("the broker did not acknowledge")
        sent.append(out)

    worker.publish = publish  # type: ignore[method-assign]
    uid = finding_uid("account-extraction", "acct-1")
    with pytest.raises(TimeoutError):
        asyncio.run(worker.checkpoint())
    assert tables["finding"].get(uid.encode()) != b"", "emptied before its close was sent"
    broker_down[0] = False
    asyncio.run(worker.checkpoint())
    closes = [f for out in sent for f in out.findings if f["activity_id"] == 3]
    assert [f["finding_info"]["uid"] for f in closes] == [uid]
    assert tables["finding"][uid.encode()] == b"", "closed: the record is emptied"
    asyncio.run(worker.checkpoint())
    assert len([f for out in sent for f in out.findings if f["activity_id"] == 3]) == 1
