from __future__ import annotations

from app.core.coordination import CoordinationConfig, CoordinationDetector
from app.core.types import AccountSignal


def test_single_signal_is_not_a_campaign() -> None:
    det = CoordinationDetector(CoordinationConfig(), seed=1)
    out = det.observe(AccountSignal(account_id="a1", ts=1.7e9, keys=("sys:abc",)))
    assert out == []
    assert det.export_group("missing") is None
