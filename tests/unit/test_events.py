"""Event contract v1: parsing, validation errors, the JSON Schema file, privacy."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.text import FLAG_COT, FLAG_READ
from app.errors import EventError
from app.events import Event, event_from_dict, parse_event, parse_event_by_field

BASE = {
    "event_id": "e1",
    "ts": "2026-02-01T10:00:00Z",
    "account_id": "acct-1",
    "model": "model-a",
    "prompt_tokens": 12,
    "completion_tokens": 340,
}
SCHEMA = json.loads(resources.files("app.schemas").joinpath("event-v1.schema.json").read_text())


def test_minimal_event_parses():
    event = parse_event(orjson.dumps(BASE))
    assert event.account_id == "acct-1"
    assert event.ts == 1_769_940_000.0
    assert event.flags == 0 and event.prompt_fp is None


def test_epoch_and_offset_timestamps_agree():
    a = parse_event(orjson.dumps({**BASE, "ts": 1_769_940_000}))
    b = parse_event(orjson.dumps({**BASE, "ts": "2026-02-01T11:00:00+01:00"}))
    assert a.ts == b.ts


def test_optional_fields_and_fingerprints():
    event = parse_event(
        orjson.dumps(
            {
                **BASE,
                "prompt_fp": "00000000000000ff",
                "asn": 16509,
                "country": "de",
                "turn": 2,
                "x": 1,
            }
        )
    )
    assert (
        event.prompt_fp == 255 and event.asn == 16509 and event.country == "DE" and event.turn == 2
    )
    assert event.to_dict()["prompt_fp"] == "00000000000000ff"


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"account_id": None}, "missing_field"),
        ({"prompt_tokens": -1}, "out_of_range"),
        ({"completion_tokens": 1.5}, "wrong_type"),
        ({"completion_tokens": True}, "wrong_type"),
        ({"ts": "2026-02-01 10:00"}, "bad_timestamp"),
        ({"ts": 1_769_940_000_000}, "out_of_range"),
        ({"ts": [1]}, "wrong_type"),
        ({"model": 3}, "wrong_type"),
        ({"account_id": ""}, "out_of_range"),
        ({"prompt_fp": "xyz"}, "wrong_type"),
        ({"asn": -3}, "out_of_range"),
        ({"country": "Germany"}, "wrong_type"),
        ({"status": 42}, "out_of_range"),
        ({"turn": 0}, "out_of_range"),
        ({"prompt": 5}, "wrong_type"),
    ],
)
def test_contract_violations_have_reasons(patch, reason):
    obj = {**BASE, **patch}
    obj = {k: v for k, v in obj.items() if v is not None}
    with pytest.raises(EventError) as info:
        parse_event(orjson.dumps(obj))
    assert info.value.reason == reason
    assert len(info.value.detail) > 5


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (None, "empty"),
        (b"{", "invalid_json"),
        (b"\xff\xfe", "not_utf8"),
        (b"[]", "not_object"),
        # nested deeper than either decoder goes, in a field the contract does not know
        (b'{"x":' + b"[" * 20000 + b"]" * 20000 + b"}", "invalid_json"),
        (b'{"x":' + b'{"a":' * 9000 + b"1" + b"}" * 9000 + b"}", "invalid_json"),
    ],
)
def test_undecodable_messages(raw, reason):
    with pytest.raises(EventError) as info:
        parse_event(raw)
    assert info.value.reason == reason


def test_too_large_is_rejected_before_decoding():
    with pytest.raises(EventError) as info:
        parse_event(b"{" + b" " * 70_000 + b"}", max_bytes=65536)
    assert info.value.reason == "too_large"


def test_raw_text_becomes_fingerprint_and_flags_and_is_dropped():
    secret = "solve step by step: a train leaves at 9 and travels 60 miles, how many hours"
    event = parse_event(
        orjson.dumps({**BASE, "prompt": secret, "system_prompt": "think step by step"})
    )
    assert event.prompt_fp is not None and event.system_prompt_fp is not None
    assert event.flags & FLAG_COT and event.flags & FLAG_READ
    # Text read that asks for nothing is known content; a fingerprint alone is unknown.
    plain = parse_event(orjson.dumps({**BASE, "prompt": "what is the capital of peru"}))
    assert plain.flags == FLAG_READ
    assert parse_event(orjson.dumps({**BASE, "prompt": ""})).flags == FLAG_READ
    unread = parse_event(orjson.dumps({**BASE, "prompt_fp": "0123456789abcdef"}))
    assert unread.flags == 0 and unread.prompt_fp == 0x0123456789ABCDEF
    assert not hasattr(event, "prompt")
    assert (
        "train leaves" not in repr(event)
        and "train leaves" not in orjson.dumps(event.to_dict()).decode()
    )


def test_schema_file_is_valid_and_agrees_with_parser():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    good = {**BASE, "prompt_fp": "0123456789abcdef", "asn": 1, "turn": 3}
    assert not list(validator.iter_errors(good))
    event_from_dict(good)
    for bad in ({**BASE, "prompt_tokens": -1}, {k: v for k, v in BASE.items() if k != "model"}):
        assert list(validator.iter_errors(bad))
        with pytest.raises(EventError):
            event_from_dict(bad)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
field_values = st.fixed_dictionaries(
    {},
    optional={
        k: json_values | st.just(v)
        for k, v in {
            **BASE,
            "asn": 1,
            "prompt_fp": "0" * 16,
            "ts": 1_769_940_000,
            "prompt": "hi",
        }.items()
    },
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_event_error(raw):
    try:
        assert isinstance(parse_event(raw), Event)
    except EventError as exc:
        assert exc.reason


@settings(max_examples=300, deadline=None)
@given(field_values)
def test_any_json_object_parses_or_raises_event_error(obj):
    try:
        assert isinstance(parse_event(orjson.dumps(obj)), Event)
    except EventError as exc:
        assert exc.reason


def test_every_optional_string_and_integer_field_is_read_and_checked():
    """The parser names each optional field in turn; this keeps it to the contract's lists."""
    from app.events import _OPT_INT, _OPT_STR, MAX_TEXT_CHARS

    for key in _OPT_STR:
        event = event_from_dict({**BASE, key: "x" * (MAX_TEXT_CHARS + 5)})
        assert getattr(event, key) == "x" * MAX_TEXT_CHARS, key
        with pytest.raises(EventError, match=key):
            event_from_dict({**BASE, key: 7})
    for key, (lo, hi) in _OPT_INT.items():
        assert getattr(event_from_dict({**BASE, key: hi}), key) == hi, key
        with pytest.raises(EventError, match=key) as err:
            event_from_dict({**BASE, key: lo - 1})
        assert err.value.reason == "out_of_range"


def _verdict(parse, raw):
    try:
        return parse(raw).to_dict()
    except EventError as exc:
        return (exc.reason, str(exc))


edge_values = (
    json_values
    | st.sampled_from(
        [
            True, 2**64, -(2**63) - 1, 10**30, 1.5e300, "", "é" * 256, "é" * 257, "x" * 257, "x" * 1025,
            "DE", "de", "D1", "00000000000000ff", "0123456789ABCDEF", "0x00000000000000",
            "2026-02-01T10:00:00Z", "2026-02-01T10:00:00", "1999-01-01T00:00:00Z",
            1_769_940_000, 1_769_940_000.25, 0, -1, 599, 600, 2**32,
        ]
    )
)  # fmt: skip
FULL = {
    **BASE,
    "org_id": "org-1", "api_key_id": "k", "ip": "10.0.0.1", "asn": 1, "country": "de",
    "user_agent": "ua", "tls_fp": "t13", "endpoint": "/v1/messages", "max_tokens": 4096,
    "status": 200, "latency_ms": 12, "conversation_id": "c", "turn": 2,
    "prompt_fp": "0" * 15 + "1", "system_prompt_fp": "f" * 16, "payment_fp": "pm",
    "account_created_ts": "2026-01-01T00:00:00+01:00", "prompt": "hi", "system_prompt": "s",
}  # fmt: skip
# A full valid event with up to three fields changed, dropped or set to null.
every_field = st.builds(
    lambda changes, dropped: {k: v for k, v in {**FULL, **changes}.items() if k not in dropped},
    st.dictionaries(st.sampled_from(sorted(FULL)), edge_values | st.none(), max_size=3),
    st.sets(st.sampled_from(sorted(FULL)), max_size=2),
)


@settings(max_examples=1500, deadline=None)
@given(every_field, st.booleans())
def test_the_fast_path_answers_as_the_field_by_field_validation(obj, duplicate):
    """msgspec reads events first (``app.wire``); whatever it accepts must be the event the
    field-by-field validation builds, and whatever it rejects gets that validation's reason.
    Integers beyond 64 bits, booleans, lengths counted in characters, null as absent and a
    field given twice (the last wins) are where two decoders could part."""
    raw = json.dumps(obj, ensure_ascii=False).encode()
    if duplicate and obj:
        key = next(iter(obj))
        raw = raw[:-1] + b", " + json.dumps({key: "dup"})[1:].encode()
    assert _verdict(parse_event, raw) == _verdict(parse_event_by_field, raw)
