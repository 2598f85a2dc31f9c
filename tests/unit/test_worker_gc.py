"""The worker's setting of Python's cyclic garbage collector (ABUSE_GC_YOUNG_THRESHOLD)."""

from __future__ import annotations

import gc

import pytest

from app.errors import SettingsError
from app.settings import load_settings
from app.stream.worker import tune_gc


def test_the_young_generation_grows_and_the_older_ratios_stay() -> None:
    before = gc.get_threshold()
    try:
        tune_gc(123_456)
        assert gc.get_threshold() == (123_456, before[1], before[2])
        tune_gc(0)  # 0 leaves the collector as it is
        assert gc.get_threshold() == (123_456, before[1], before[2])
    finally:
        gc.set_threshold(*before)


def test_the_setting_defaults_to_a_large_young_generation() -> None:
    assert load_settings().gc_young_threshold == 100_000
    assert load_settings(gc_young_threshold=0).gc_young_threshold == 0
    with pytest.raises(SettingsError, match="ABUSE_GC_YOUNG_THRESHOLD"):
        load_settings(gc_young_threshold=-1)
