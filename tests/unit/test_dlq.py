"""Dead letters keep the original bytes, minus raw prompt text, plus where and why."""

from __future__ import annotations

import orjson

from app.stream.dlq import dead_letter, redact_text
from app.stream.pipeline import Pipeline, Record


def test_dead_letter_headers():
    letter = dead_letter(
        b"k", b"not json", "invalid_json", "message is not valid JSON", "api-events", 3, 42, 1.5
    )
    headers = dict(letter.headers)
    assert letter.value == b"not json" and letter.key == b"k"
    assert headers["reason"] == b"invalid_json"
    assert headers["source_partition"] == b"3" and headers["source_offset"] == b"42"


def test_prompt_text_is_redacted_in_json_and_broken_json():
    value, redacted = redact_text(orjson.dumps({"prompt": "secret words", "ts": "bad"}))
    assert redacted and b"secret words" not in value and orjson.loads(value)["ts"] == "bad"
    value, redacted = redact_text(b'{"system_prompt": "secret words", "ts": ')
    assert redacted and b"secret words" not in value


def test_prompt_text_is_redacted_at_any_depth_or_the_payload_dropped():
    """Batches in an array, nested requests and escaped keys lose their text; a payload that
    is not JSON and holds a text field the pattern cannot blank is dropped whole."""
    secret = b"SECRET words"
    for payload in (
        b'[{"prompt": "SECRET words"}, {"system_prompt": "SECRET words"}]',
        b'{"req": {"messages": [{"prompt": "SECRET words"}]}}',
        b'{"\\u0070rompt": "SECRET words", "ts": "bad"}',
        b'{"body": "{\\"prompt\\": \\"SECRET words\\"}"}',  # JSON text in a string
    ):
        value, how = redact_text(payload)
        assert how == b"prompt text removed" and secret not in value, payload
        assert orjson.loads(value), "the payload stays JSON"
    for payload in (
        b'{"prompt": ["SECRET words"], bad',  # not a plain string: the pattern cannot blank it
        b'{"\\u0070rompt": "SECRET words", bad',  # escapes in a payload that is not JSON
    ):
        value, how = redact_text(payload)
        assert value == b"" and how.startswith(b"payload dropped"), payload
        letter = dead_letter(None, payload, "invalid_json", "bad", "t", 0, 0, 0.0)
        assert letter.value == b"" and dict(letter.headers)["redacted"] == how
    assert redact_text(b'{"a": 1, bad') == (b'{"a": 1, bad', b""), "nothing to remove: kept"
    escaped_value = b'{"user": "Jos\\u00e9", "ts": bad'  # escapes in a value, not a key
    assert redact_text(escaped_value) == (escaped_value, b"")


def test_large_payload_is_truncated_and_marked():
    letter = dead_letter(None, b"x" * 1000, "too_large", "too big", "t", 0, 0, 0.0, max_bytes=100)
    assert len(letter.value) == 100
    assert dict(letter.headers)["truncated"] == b"first 100 of 1000 bytes"


def test_pipeline_counts_valid_and_dead_letters():
    good = orjson.dumps(
        {
            "event_id": "1",
            "ts": 1_769_940_000,
            "account_id": "a",
            "model": "m",
            "prompt_tokens": 1,
            "completion_tokens": 2,
        }
    )
    records = [Record(b"a", good, "t", 0, i) for i in range(3)] + [Record(None, b"{", "t", 1, 9)]
    out = Pipeline().handle(records, now=0.0)
    assert out.valid == 3 and len(out.dead_letters) == 1
    assert out.dlq_reasons == {"invalid_json": 1}
    assert out.event_ts == [1_769_940_000] * 3 and out.partition_ts == {0: 1_769_940_000}


def test_an_event_the_detector_fails_on_is_kept_and_the_batch_goes_on(caplog):
    from app.core.engine import Engine

    engine = Engine(seed=1)

    class Stage:
        def process_account(self, event):
            if event.account_id.startswith("bad"):
                raise KeyError("bug")
            return engine.process_account(event)

    def event(i: int, account: str) -> bytes:
        return orjson.dumps(
            {
                "event_id": str(i),
                "ts": 1_769_940_000 + i,
                "account_id": account,
                "model": "m",
                "prompt_tokens": 1,
                "completion_tokens": 2,
                "prompt": "secret words",
            }
        )

    accounts = ["a", "bad1", "b", "bad2", "c"]
    records = [Record(a.encode(), event(i, a), "t", 0, i) for i, a in enumerate(accounts)]
    out = Pipeline(Stage()).handle(records, now=0.0)
    assert out.valid == 3 and out.event_ts == [1_769_940_000 + i for i in (0, 2, 4)]
    assert out.dlq_reasons == {"processing_error": 2}
    kept = [(dict(d.headers)["source_offset"], dict(d.headers)["reason"]) for d in out.dead_letters]
    assert kept == [(b"1", b"processing_error"), (b"3", b"processing_error")]
    assert all(b"secret words" not in d.value for d in out.dead_letters)
    # One traceback for the batch, then a count; never the event's content.
    assert caplog.text.count("Traceback") == 1 and "2 events of this batch" in caplog.text
    assert "secret words" not in caplog.text
