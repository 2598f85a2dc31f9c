"""The demo's feeder counts an event as sent only once the producer has it."""

from __future__ import annotations

from app.cli.demo import Feeder


def test_an_event_a_stop_catches_before_it_is_sent_is_not_counted() -> None:
    events = [{"ts": 1_769_940_000.0 + i, "account_id": f"a{i}"} for i in range(5)]
    feeder = Feeder(iter(events), "localhost:9092", speed=1.0)
    paced = feeder._paced()
    assert next(paced)["account_id"] == "a0"
    assert feeder.sent == 0, "handed out, not yet known to be sent"
    assert next(paced)["account_id"] == "a1"
    assert feeder.sent == 1, "asked for the next: the first was sent"
    paced.close()  # the stop came while the second waited for its time
    assert feeder.sent == 1
    rest = Feeder(iter(events), "localhost:9092", speed=1.0)
    assert [e["account_id"] for e in rest._paced()] == [e["account_id"] for e in events]
    assert rest.sent == len(events)
