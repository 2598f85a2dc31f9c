"""The key scheme that links accounts: shared fingerprints of their traffic.

Every key is ``<kind>:<value>``; the stream layer re-keys account signals by each key, so
one coordination state sees every account that shares that fingerprint.

| kind | value | links accounts that ... |
|---|---|---|
| ``tpl`` | ``<band>:<4 hex>``, 4 bands of 16 bits of ``prompt_fp`` | send near-duplicate prompts (SimHash LSH) |
| ``frame`` | ``h`` / ``t`` and 12 hex digits of hash(the prompt's first / last 8 words, user agent, TLS fp) | fill one template's slot on one client stack |
| ``sys`` | 16 hex digits of ``system_prompt_fp`` | share one system prompt |
| ``net`` | IPv4 /24 (``a.b.c``) or IPv6 /48 | share an egress network |
| ``infra`` | 12 hex digits of hash(ASN, user agent, TLS fp) | share one client stack on one network |
| ``client`` | 12 hex digits of hash(user agent, TLS fp) | share one client stack (a script, a spoofed UA) |
| ``pay`` | the payment fingerprint | share a payment instrument |
| ``cohort`` | ``<sign-up day>:<ASN>`` | signed up the same day from the same network |
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from hashlib import blake2b
from typing import Final

from app.core.coordination_sketch import TPL_BAND_BITS, TPL_BANDS, U64
from app.core.types import AccountSignal
from app.events import Event

KINDS = ("tpl", "frame", "sys", "net", "infra", "client", "pay", "cohort")
DAY_S: Final = 86400.0


def key_kind(key: str) -> str:
    """Return the kind of a key (the part before the first colon)."""
    return key.split(":", 1)[0]


def template_keys(prompt_fp: int | None) -> tuple[str, ...]:
    """Return the LSH band keys of a prompt SimHash (none for a missing or zero hash).

    Band ``b`` is bits ``16b`` to ``16b + 15``: four hex digits of the hash written out
    once, counted from its end.
    """
    if not prompt_fp:
        return ()
    digits = f"{prompt_fp & U64:016x}"
    width = TPL_BAND_BITS // 4
    return tuple(
        [
            f"tpl:{band}:{digits[16 - width * (band + 1) : 16 - width * band]}"
            for band in range(TPL_BANDS)
        ]
    )


def network_prefix(ip: str | None) -> str | None:
    """Return the /24 of an IPv4 address or the /48 of an IPv6 address, None if unparseable."""
    if not ip:
        return None
    if ":" in ip:
        parts = ip.split(":")
        if len(parts) < 3 or "" in parts[:3]:
            return None
        return ":".join(p.lower() for p in parts[:3])
    parts = ip.split(".")
    if len(parts) != 4:
        return None
    for part in parts:
        if not part.isdigit():
            return None
    return f"{parts[0]}.{parts[1]}.{parts[2]}"


@lru_cache(maxsize=16384)
def _digest(*parts: object) -> str:
    """Hash of a client stack, or of a template's frame on one (they repeat, so cached)."""
    raw = "\x1f".join("" if p is None else str(p) for p in parts).encode()
    return blake2b(raw, digest_size=6).hexdigest()


@lru_cache(maxsize=4096)
def _day(day: int) -> str:
    """The UTC date (``YYYYMMDD``) of a day number since the epoch."""
    return datetime.fromtimestamp(day * DAY_S, UTC).strftime("%Y%m%d")


def signal_keys(event: Event) -> tuple[str, ...]:
    """Return the shared-fingerprint keys of one event (see the module table)."""
    keys: list[str] = list(template_keys(event.prompt_fp))
    if event.turn is None or event.turn <= 1:  # later turns carry tool output, not a task
        ua, tls = event.user_agent, event.tls_fp
        if event.head_fp:
            keys.append(f"frame:h{_digest(event.head_fp, ua, tls)}")
        if event.tail_fp:
            keys.append(f"frame:t{_digest(event.tail_fp, ua, tls)}")
    if event.system_prompt_fp:
        keys.append(f"sys:{event.system_prompt_fp:016x}")
    net = network_prefix(event.ip)
    if net is not None:
        keys.append(f"net:{net}")
    known = (event.asn is not None) + (event.user_agent is not None) + (event.tls_fp is not None)
    if known >= 2:
        keys.append(f"infra:{_digest(event.asn, event.user_agent, event.tls_fp)}")
    if event.user_agent and event.tls_fp:
        keys.append(f"client:{_digest(event.user_agent, event.tls_fp)}")
    if event.payment_fp:
        keys.append(f"pay:{event.payment_fp[:64]}")
    if event.account_created_ts is not None and event.asn is not None:
        keys.append(f"cohort:{_day(int(event.account_created_ts // DAY_S))}:{event.asn}")
    return tuple(keys)


def signal_from_event(
    event: Event,
    *,
    events: int = 1,
    risk: float = 0.0,
    harvest: float = 0.0,
    features: dict[str, float] | None = None,
) -> AccountSignal:
    """Build the coordination signal of an account from its latest event."""
    age = None
    if event.account_created_ts is not None:
        age = max(0.0, (event.ts - event.account_created_ts) / DAY_S)
    return AccountSignal(
        account_id=event.account_id,
        ts=event.ts,
        keys=signal_keys(event),
        events=events,
        model=event.model,
        account_age_days=age,
        risk=risk,
        harvest=harvest,
        features=features,
        org_id=event.org_id or "",
        prompt_fp=event.prompt_fp or 0,
        flags=event.flags,
    )
