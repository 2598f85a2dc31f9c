"""The worker's checkpoint: a close whose publish failed is sent at a later checkpoint (the
policy has let go of the finding), and a finding the broker keeps refusing is given up on,
loudly, instead of being held for ever."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.core.types import Detection, Evidence
from app.findings.ocsf import finding_uid
from app.settings import load_settings
from app.stream.pipeline import BatchOutput
from app.stream.worker import UNSENT_TRIES, DetectorWorker

T0 = 1_769_940_000.0
UID = finding_uid("account-extraction", "acct-1")


def _worker(tmp_path, fails: list[bool]) -> tuple[DetectorWorker, dict, list[BatchOutput]]:
    """A worker with one open finding, its tables as dicts and a publish that fails while
    ``fails[0]``: no broker here."""
    worker = DetectorWorker(load_settings(data_dir=str(tmp_path), metrics_port=0))
    tables: dict[str, dict[bytes, bytes]] = {"account": {}, "finding": {}, "link": {}, "group": {}}
    for name, table in tables.items():
        setattr(worker, f"_put_{name}", table.__setitem__)
    detection = Detection("account-extraction", "acct-1", 0.9, T0, T0, [Evidence("x", 1, 0, 1)])
    assert worker.policy.apply(detection), "the finding opens"
    worker.close_watermark = lambda now: T0 + 2 * 3600  # quiet for longer than the close period
    sent: list[BatchOutput] = []

    async def publish(out: BatchOutput) -> None:
        if fails[0]:
            raise TimeoutError("the broker did not acknowledge")
        sent.append(out)

    worker.publish = publish  # type: ignore[method-assign]
    return worker, tables, sent


def _closes(sent: list[BatchOutput]) -> list[str]:
    return [f["finding_info"]["uid"] for out in sent for f in out.findings if f["activity_id"] == 3]


def test_a_close_whose_publish_failed_goes_out_at_the_next_checkpoint(tmp_path) -> None:
    fails = [True]
    worker, tables, sent = _worker(tmp_path, fails)
    with pytest.raises(TimeoutError):
        asyncio.run(worker.checkpoint())
    # The record is emptied before the publish, so a batch handled meanwhile cannot load
    # the closed finding back from the table.
    assert tables["finding"][UID.encode()] == b""
    fails[0] = False
    asyncio.run(worker.checkpoint())
    assert _closes(sent) == [UID]
    asyncio.run(worker.checkpoint())
    assert _closes(sent) == [UID], "sent once"


def test_a_finding_the_broker_keeps_refusing_is_dropped_with_an_error(tmp_path, caplog) -> None:
    worker, _, sent = _worker(tmp_path, [True])
    with caplog.at_level(logging.ERROR, logger="app.stream.worker"):
        for _ in range(UNSENT_TRIES):
            with pytest.raises(TimeoutError):
                asyncio.run(worker.checkpoint())
    assert worker._unsent == []
    dropped = [r.getMessage() for r in caplog.records if "dropping" in r.getMessage()]
    assert len(dropped) == 1 and UID in dropped[0]
    assert sent == []
