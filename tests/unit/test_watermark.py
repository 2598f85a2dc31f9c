"""The event-time watermark that gates finding closes in the worker."""

from __future__ import annotations

from app.stream.watermark import Watermark


def test_the_slowest_active_partition_holds_the_watermark() -> None:
    wm = Watermark(idle_s=60)
    assert wm.value(0.0) == 0.0
    wm.advance({0: 1000.0, 1: 5000.0}, now=0.0)
    assert wm.value(1.0) == 1000.0
    wm.advance({0: 900.0}, now=2.0)  # out of order within a partition never moves it back
    assert wm.value(3.0) == 1000.0
    wm.advance({0: 6000.0}, now=4.0)
    assert wm.value(5.0) == 5000.0


def test_a_silent_partition_stops_holding_it_back() -> None:
    wm = Watermark(idle_s=60)
    wm.advance({0: 1000.0, 1: 5000.0}, now=0.0)
    wm.advance({1: 7000.0}, now=50.0)
    assert wm.value(55.0) == 1000.0
    assert wm.value(70.0) == 7000.0  # partition 0 has been silent for over a minute
    assert wm.value(500.0) == 7000.0  # all silent: the newest time seen
