"""An event's shape on the wire, for msgspec: JSON decoded and its types checked in one C pass.

``app.events.parse_event`` decodes every event with :data:`DECODER` first and finishes the
checks the contract adds (timestamps, truncation, fingerprints, raw text). Anything this
decoder rejects goes to the field-by-field validation in ``app.events``, which names the
reason; so this module decides only how fast a valid event is read, never what is valid.
It stays out of the mypyc build: a msgspec ``Struct`` is not a class mypyc compiles.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
import msgspec.structs

MAX_ID_CHARS: Final = 256
MAX_TOKENS: Final = 10_000_000

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
Tokens = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]


class WireEvent(msgspec.Struct):
    """Contract v1 as msgspec reads it: unknown fields ignored, ``null`` as absent."""

    event_id: Id
    ts: float | str
    account_id: Id
    model: Id
    prompt_tokens: Tokens
    completion_tokens: Tokens
    org_id: str | None = None
    api_key_id: str | None = None
    ip: str | None = None
    asn: Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)] | None = None
    country: str | None = None
    user_agent: str | None = None
    tls_fp: str | None = None
    endpoint: str | None = None
    max_tokens: Tokens | None = None
    status: Annotated[int, msgspec.Meta(ge=100, le=599)] | None = None
    latency_ms: Annotated[float, msgspec.Meta(ge=0)] | None = None
    conversation_id: str | None = None
    turn: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None
    prompt_fp: str | None = None
    system_prompt_fp: str | None = None
    payment_fp: str | None = None
    account_created_ts: float | str | None = None
    prompt: str | None = None
    system_prompt: str | None = None


DECODER = msgspec.json.Decoder(WireEvent)
astuple = msgspec.structs.astuple
DecodeFailed = msgspec.MsgspecError
