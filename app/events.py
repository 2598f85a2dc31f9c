"""Event contract v1: decode and validate one API-request event.

``parse_event`` turns raw bytes into an :class:`Event` or raises :class:`EventError` with a
stable reason code. Raw ``prompt`` / ``system_prompt`` text is turned into fingerprints and
content flags here and never leaves this function.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import orjson

from app.core.text import FLAG_READ, TextFacts
from app.errors import EventError
from app.wire import DECODER, MAX_ID_CHARS, MAX_TOKENS, DecodeFailed, WireEvent, astuple

SCHEMA_VERSION: Final = "1"
MAX_TEXT_CHARS: Final = 1024
_TEXT_FACTS = TextFacts()  # fingerprints and flags of repeated texts, keyed by digest
# Event times before 2000-01-01 or after 2100-01-01 are almost certainly unit mistakes.
MIN_TS: Final = 946_684_800.0
MAX_TS: Final = 4_102_444_800.0

REQUIRED = ("event_id", "ts", "account_id", "model", "prompt_tokens", "completion_tokens")
_OPT_STR = (
    "org_id",
    "api_key_id",
    "ip",
    "user_agent",
    "tls_fp",
    "endpoint",
    "conversation_id",
    "payment_fp",
)
_OPT_INT = {
    "asn": (0, 2**32 - 1),
    "max_tokens": (0, MAX_TOKENS),
    "status": (100, 599),
    "turn": (1, 1_000_000),
}


FIELDS: tuple[str, ...] = (
    "event_id", "ts", "account_id", "model", "prompt_tokens", "completion_tokens",
    "org_id", "api_key_id", "ip", "asn", "country", "user_agent", "tls_fp", "endpoint",
    "max_tokens", "status", "latency_ms", "conversation_id", "turn", "prompt_fp",
    "system_prompt_fp", "payment_fp", "account_created_ts", "flags", "head_fp", "tail_fp",
)  # fmt: skip


class Event:
    """One validated API request. Holds no raw prompt text, by construction.

    A plain class rather than a dataclass: mypyc compiles its ``__init__`` (a dataclass's
    is generated at import and stays interpreted), and one is built for every event.
    """

    __slots__ = FIELDS

    def __init__(
        self,
        event_id: str,
        ts: float,
        account_id: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        org_id: str | None = None,
        api_key_id: str | None = None,
        ip: str | None = None,
        asn: int | None = None,
        country: str | None = None,
        user_agent: str | None = None,
        tls_fp: str | None = None,
        endpoint: str | None = None,
        max_tokens: int | None = None,
        status: int | None = None,
        latency_ms: float | None = None,
        conversation_id: str | None = None,
        turn: int | None = None,
        prompt_fp: int | None = None,
        system_prompt_fp: int | None = None,
        payment_fp: str | None = None,
        account_created_ts: float | None = None,
        flags: int = 0,  # content flags derived from raw text (app.core.text), 0 when unknown
        # fingerprints of the prompt's opening and closing words (``frame_fingerprints``),
        # derived from raw text like the flags; 0 when unknown
        head_fp: int = 0,
        tail_fp: int = 0,
    ) -> None:
        self.event_id = event_id
        self.ts = ts
        self.account_id = account_id
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.org_id = org_id
        self.api_key_id = api_key_id
        self.ip = ip
        self.asn = asn
        self.country = country
        self.user_agent = user_agent
        self.tls_fp = tls_fp
        self.endpoint = endpoint
        self.max_tokens = max_tokens
        self.status = status
        self.latency_ms = latency_ms
        self.conversation_id = conversation_id
        self.turn = turn
        self.prompt_fp = prompt_fp
        self.system_prompt_fp = system_prompt_fp
        self.payment_fp = payment_fp
        self.account_created_ts = account_created_ts
        self.flags = flags
        self.head_fp = head_fp
        self.tail_fp = tail_fp

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Event({self.to_dict()!r})"

    def to_dict(self) -> dict[str, Any]:
        """Return the event as a contract-v1 dict (fingerprints as 16 hex digits)."""
        out = {k: v for k in FIELDS if (v := getattr(self, k)) is not None}
        for key in ("prompt_fp", "system_prompt_fp"):
            if key in out:
                out[key] = f"{out[key]:016x}"
        for key in ("flags", "head_fp", "tail_fp"):
            if not out.get(key):
                out.pop(key, None)
        return out


def _fail(reason: str, detail: str) -> EventError:
    return EventError(reason, detail)


def _parse_ts(value: Any, field: str) -> float:
    if isinstance(value, float):  # the common case first
        ts = value
    elif isinstance(value, bool):
        raise _fail(
            "wrong_type", f"{field} must be an RFC 3339 string or epoch seconds, got a boolean"
        )
    elif isinstance(value, int):
        ts = float(value)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise _fail("bad_timestamp", f"{field} {value[:40]!r} is not RFC 3339") from None
        if dt.tzinfo is None:
            raise _fail("bad_timestamp", f"{field} {value[:40]!r} has no time zone offset")
        ts = dt.timestamp()
    else:
        raise _fail("wrong_type", f"{field} must be an RFC 3339 string or epoch seconds")
    if not MIN_TS <= ts <= MAX_TS:
        raise _fail(
            "out_of_range", f"{field} {ts:.0f} is not between 2000 and 2100 (epoch seconds?)"
        )
    return ts


def _req_str(obj: dict[str, Any], key: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise _fail("wrong_type", f"{key} must be a string, got {type(value).__name__}")
    if not value or len(value) > MAX_ID_CHARS:
        raise _fail("out_of_range", f"{key} must be 1 to {MAX_ID_CHARS} characters")
    return value


def _int(value: Any, key: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail("wrong_type", f"{key} must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise _fail("out_of_range", f"{key} must be between {lo} and {hi}, got {value}")
    return value


def _fp(value: Any, key: str) -> int:
    if not isinstance(value, str) or len(value) != 16:
        raise _fail("wrong_type", f"{key} must be 16 hex digits")
    try:
        return int(value, 16)
    except ValueError:
        raise _fail("wrong_type", f"{key} must be 16 hex digits") from None


def parse_event(raw: bytes | bytearray | memoryview | None, max_bytes: int = 65536) -> Event:
    """Decode and validate one event; raise :class:`EventError` if it breaks the contract.

    msgspec reads the JSON and checks its types in one pass (``app.wire``); an event it
    or the remaining checks reject is read again field by field, which names the reason.
    """
    if raw is None or len(raw) == 0:
        raise _fail("empty", "message has no value")
    if len(raw) > max_bytes:
        raise _fail("too_large", f"message is {len(raw)} bytes, the limit is {max_bytes}")
    try:
        return _from_wire(DECODER.decode(raw))
    except (DecodeFailed, EventError, RecursionError):
        # RecursionError: msgspec's answer to an unknown field nested thousands deep.
        return parse_event_by_field(raw)


def parse_event_by_field(raw: bytes | bytearray | memoryview) -> Event:
    """The reference validation: orjson, then every field in turn. Slower than
    :func:`parse_event`, which gives the same answer for any input (and uses this for the
    events it rejects, to name the reason)."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "utf-8" in str(exc).lower():
            raise _fail("not_utf8", "message is not valid UTF-8") from None
        raise _fail("invalid_json", f"message is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(obj, dict):
        raise _fail("not_object", f"event must be a JSON object, got {type(obj).__name__}")
    return event_from_dict(obj)


def _text(value: str | None) -> str | None:
    return None if value is None else value[:MAX_TEXT_CHARS]


def _from_wire(w: WireEvent) -> Event:
    """Finish what msgspec checked (types, lengths of ids, integer ranges) into an Event.

    The fields are read in one call (``astuple``, in WireEvent's order): a Struct is not a
    class mypyc knows, so each attribute read would be a generic lookup.
    """
    (
        event_id, ts, account_id, model, prompt_tokens, completion_tokens, org_id,
        api_key_id, ip, asn, country, user_agent, tls_fp, endpoint, max_tokens, status,
        latency_ms, conversation_id, turn, prompt_fp, system_prompt_fp, payment_fp,
        created, prompt, system_prompt,
    ) = astuple(w)  # fmt: skip
    event = Event(
        event_id, _parse_ts(ts, "ts"), account_id, model, prompt_tokens, completion_tokens,
        _text(org_id), _text(api_key_id), _text(ip), asn, _country(country),
        _text(user_agent), _text(tls_fp), _text(endpoint), max_tokens, status, latency_ms,
        _text(conversation_id), turn,
        None if prompt_fp is None else _fp(prompt_fp, "prompt_fp"),
        None if system_prompt_fp is None else _fp(system_prompt_fp, "system_prompt_fp"),
        _text(payment_fp),
        None if created is None else _parse_ts(created, "account_created_ts"),
    )  # fmt: skip
    if prompt is not None or system_prompt is not None:
        _derive_text(event, prompt, system_prompt)
    return event


def event_from_dict(obj: dict[str, Any]) -> Event:
    """Validate a decoded JSON object against contract v1 and build the :class:`Event`."""
    for key in REQUIRED:
        if key not in obj or obj[key] is None:
            raise _fail("missing_field", f"required field {key} is missing")
    event = Event(
        event_id=_req_str(obj, "event_id"),
        ts=_parse_ts(obj["ts"], "ts"),
        account_id=_req_str(obj, "account_id"),
        model=_req_str(obj, "model"),
        prompt_tokens=_int(obj["prompt_tokens"], "prompt_tokens", 0, MAX_TOKENS),
        completion_tokens=_int(obj["completion_tokens"], "completion_tokens", 0, MAX_TOKENS),
    )
    get = obj.get
    for key in _OPT_STR:
        value = get(key)
        if value is not None:
            if not isinstance(value, str):
                raise _fail("wrong_type", f"{key} must be a string, got {type(value).__name__}")
            setattr(event, key, value[:MAX_TEXT_CHARS])
    for key, (lo, hi) in _OPT_INT.items():
        value = get(key)
        if value is not None:
            setattr(event, key, _int(value, key, lo, hi))
    event.country = _country(get("country"))
    latency = get("latency_ms")
    if latency is not None:
        if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
            raise _fail("wrong_type", "latency_ms must be a number >= 0")
        event.latency_ms = float(latency)
    created = get("account_created_ts")
    if created is not None:
        event.account_created_ts = _parse_ts(created, "account_created_ts")
    fp = get("prompt_fp")
    if fp is not None:
        event.prompt_fp = _fp(fp, "prompt_fp")
    fp = get("system_prompt_fp")
    if fp is not None:
        event.system_prompt_fp = _fp(fp, "system_prompt_fp")
    prompt, system_prompt = get("prompt"), get("system_prompt")
    if prompt is not None or system_prompt is not None:
        if prompt is not None and not isinstance(prompt, str):
            raise _fail("wrong_type", "prompt must be a string")
        if system_prompt is not None and not isinstance(system_prompt, str):
            raise _fail("wrong_type", "system_prompt must be a string")
        _derive_text(event, prompt, system_prompt)
    return event


def _country(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 2 or not value.isalpha():
        raise _fail("wrong_type", "country must be an ISO 3166-1 alpha-2 code")
    return value.upper()


def _derive_text(event: Event, prompt: str | None, system_prompt: str | None) -> None:
    """Raw text: derive fingerprints and flags, then let it go out of scope."""
    flags = 0 if prompt is None else FLAG_READ  # an empty prompt is read: it asks nothing
    if prompt:
        fp, asked, event.head_fp, event.tail_fp = _TEXT_FACTS.prompt(prompt)
        flags |= asked
        if event.prompt_fp is None:
            event.prompt_fp = fp
    if system_prompt:
        fp, sys_flags = _TEXT_FACTS.system(system_prompt)
        flags |= sys_flags
        if event.system_prompt_fp is None:
            event.system_prompt_fp = fp
    event.flags = flags
