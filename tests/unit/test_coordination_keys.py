from __future__ import annotations

import orjson
import pytest

from app.core.coordination import signal_from_event, signal_keys
from app.core.coordination_keys import key_kind, network_prefix, template_keys
from app.core.types import AccountSignal, decode_signal_entries
from app.events import Event

TS = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _event(**kw: object) -> Event:
    base: dict[str, object] = dict(
        event_id="e1", ts=TS, account_id="acct-1", model="m", prompt_tokens=10, completion_tokens=20
    )
    base.update(kw)
    return Event(**base)  # type: ignore[arg-type]


def test_full_event_yields_every_kind() -> None:
    ev = _event(
        prompt_fp=0x0123456789ABCDEF,
        system_prompt_fp=0xFEDCBA9876543210,
        ip="203.0.113.7",
        asn=64500,
        user_agent="sdk/1.0",
        tls_fp="ja3abc",
        payment_fp="card-9",
        account_created_ts=TS - 3 * 86400,
    )
    keys = signal_keys(ev)
    assert [k for k in keys if key_kind(k) == "tpl"] == [
        "tpl:0:cdef",
        "tpl:1:89ab",
        "tpl:2:4567",
        "tpl:3:0123",
    ]
    assert "sys:fedcba9876543210" in keys
    assert "net:203.0.113" in keys
    assert "pay:card-9" in keys
    assert "cohort:20251229:64500" in keys
    assert sum(key_kind(k) == "infra" for k in keys) == 1


def test_frame_keys_come_from_the_opening_turn_only() -> None:
    ev = _event(head_fp=0xAB, tail_fp=0xCD, user_agent="sdk/1.0", tls_fp="ja3abc")
    head, tail = (k for k in signal_keys(ev) if key_kind(k) == "frame")
    assert head.startswith("frame:h") and tail.startswith("frame:t")
    assert head in signal_keys(_event(head_fp=0xAB, user_agent="sdk/1.0", tls_fp="ja3abc", turn=1))
    # a template's frame on another client stack is another key: two crews rarely share both
    assert head not in signal_keys(_event(head_fp=0xAB, user_agent="sdk/1.1", tls_fp="ja3abc"))
    assert key_kind(signal_keys(_event(head_fp=0xAB))[0]) == "frame"  # no stack known
    # a later turn of a conversation carries tool output or a reply, not a filled template
    assert signal_keys(_event(head_fp=0xAB, tail_fp=0xCD, turn=2)) == ()


def test_sparse_event_yields_no_keys() -> None:
    assert signal_keys(_event()) == ()
    assert signal_keys(_event(asn=1)) == ()  # one infra field alone links nothing


def test_infra_key_depends_on_every_part() -> None:
    a = signal_keys(_event(asn=1, user_agent="x", tls_fp="t"))
    b = signal_keys(_event(asn=1, user_agent="y", tls_fp="t"))
    assert a != b


@pytest.mark.parametrize(
    ("ip", "prefix"),
    [
        ("10.1.2.3", "10.1.2"),
        ("2001:DB8:1:2::1", "2001:db8:1"),
        ("junk", None),
        (None, None),
        ("::1", None),
    ],
)
def test_network_prefix(ip: str | None, prefix: str | None) -> None:
    assert network_prefix(ip) == prefix


def test_near_duplicate_prompts_share_a_band() -> None:
    fp = 0x0F0F_F0F0_1234_5678
    assert set(template_keys(fp)) & set(template_keys(fp ^ 0b101))
    assert template_keys(0) == ()


def test_signal_from_event_roundtrips() -> None:
    ev = _event(org_id="org-1", prompt_fp=7, flags=3, account_created_ts=TS - 86400, ip="1.2.3.4")
    sig = signal_from_event(ev, events=2, risk=0.5, harvest=0.25)
    assert sig.account_age_days == pytest.approx(1.0)
    assert sig.org_id == "org-1" and sig.prompt_fp == 7 and sig.flags == 3
    assert AccountSignal.from_dict(sig.to_dict()) == sig


def test_signal_wire_forms_roundtrip_and_garbage_is_refused() -> None:
    """The internal topic carries the compact list form; a worker still reads the dict form
    that earlier versions wrote, so a rolling upgrade loses no signal."""
    ev = _event(org_id="org-1", prompt_fp=2**64 - 1, flags=3, ip="1.2.3.4")
    sig = signal_from_event(ev, events=2, risk=0.5, harvest=0.25, features={"rate_per_min": 1.5})
    assert sig.account_age_days is None and sig.keys
    assert AccountSignal.decode(orjson.loads(orjson.dumps(sig.to_list()))) == sig
    assert AccountSignal.decode(orjson.loads(orjson.dumps(sig.to_dict()))) == sig
    aged = signal_from_event(_event(account_created_ts=TS - 86400), events=1, risk=0.0, harvest=0.0)
    assert AccountSignal.decode(aged.to_list()) == aged
    for bad in ("text", 7, None, [1, 2, 3], sig.to_list()[:-1], {"ts": 1.0}):
        with pytest.raises((TypeError, ValueError, KeyError)):
            AccountSignal.decode(bad)


def test_signal_message_entries_decode_and_anything_else_is_refused() -> None:
    """A message of the signal topic is a list of [signal, keys] entries; the worker sends
    to its DLQ whatever raises here, so nothing malformed is half-read or coerced."""
    sig = signal_from_event(_event(ip="1.2.3.4"), events=1, risk=0.1, harvest=0.0)
    keys = [k for k in sig.keys if k.startswith("net:")]
    message = orjson.loads(orjson.dumps([[sig.to_list(), keys], [sig.to_dict(), []]]))
    assert decode_signal_entries(message) == [(sig, keys), (sig, [])]
    body = sig.to_list()
    for bad in (
        {"not": "a list"},
        [body],  # an entry without its keys
        [[body, keys, "extra"]],
        [[body, "net:1.2.3"]],  # keys as a string, not a list
        [[body, [5]]],  # a key that is not a string
        [[{"ts": 1.0}, keys]],  # a signal without its fields
        [[[*body[:10], -1, body[11]], keys]],  # a fingerprint no SimHash can have
        [[[*body[:10], 1 << 64, body[11]], keys]],
        [[[*body[:8], {"rate_per_min": "fast"}, *body[9:]], keys]],  # a feature not a number
        [[[*body[:8], {"rate_per_min": "1.5"}, *body[9:]], keys]],  # a number in a string
        [[[*body[:8], {"rate_per_min": True}, *body[9:]], keys]],
        [[[*body[:10], "123", body[11]], keys]],  # a fingerprint in a string
        [[[*body[:10], 3.9, body[11]], keys]],
    ):
        with pytest.raises((TypeError, ValueError, KeyError)):
            decode_signal_entries(bad)
