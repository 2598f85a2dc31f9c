"""Data the detection core hands to the alert policy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


class Evidence:
    """One signal that fired: its value now and the baseline it was compared with.

    A plain class, treated as immutable: mypyc compiles its ``__init__`` (a dataclass's
    stays interpreted), and every group verdict that gets past its anchors builds ten.
    """

    __slots__ = ("name", "value", "baseline", "weight")

    def __init__(
        self,
        name: str,
        value: float,
        baseline: float,
        weight: float = 0.0,  # contribution to the score, for ordering the evidence
    ) -> None:
        self.name = name
        self.value = value
        self.baseline = baseline
        self.weight = weight

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Evidence) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"Evidence{self._fields()!r}"

    def _fields(self) -> tuple[str, float, float, float]:
        return self.name, self.value, self.baseline, self.weight

    def to_dict(self) -> dict[str, object]:
        """Return the evidence as a JSON-ready dict."""
        return {
            "name": self.name,
            "value": round(self.value, 4),
            "baseline": round(self.baseline, 4),
            "weight": round(self.weight, 4),
        }


@dataclass(slots=True)
class Detection:
    """What a detector says about one account or one group at one event time.

    ``subject`` is the stable identity of what was detected (an account id, or a group key
    such as ``tpl:3fa2...``); the alert policy derives the finding uid from
    ``(detector, subject)`` so it survives restarts and rebalances.
    """

    detector: str  # analytic name, e.g. "account-extraction", "hydra-cluster"
    subject: str
    score: float  # 0..1 risk
    ts: float  # event time (epoch seconds) of the event that produced it
    first_seen: float
    evidence: list[Evidence] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)  # bounded sample of member accounts
    total_accounts: int = 1
    labels: dict[str, str] = field(default_factory=dict)  # small extras (e.g. campaign shape)


class AccountSignal:
    """What the per-account stage tells the coordination stage about one account.

    Emitted by the account detector (at a bounded rate per account) and re-keyed by each of
    ``keys`` in the stream layer, so that one coordination state sees every account that
    shares a fingerprint. Carries no raw text. A plain class rather than a dataclass: mypyc
    compiles its ``__init__`` (a dataclass's stays interpreted).
    """

    __slots__ = (
        "account_id", "ts", "keys", "events", "model", "account_age_days", "risk", "harvest",
        "features", "org_id", "prompt_fp", "flags",
    )  # fmt: skip

    def __init__(
        self,
        account_id: str,
        ts: float,  # event time of the latest event summarised
        keys: tuple[str, ...],  # shared fingerprints, e.g. "tpl:<band>", "net:<ip/24>"
        events: int = 1,  # events summarised since the previous signal of this account
        model: str = "",
        account_age_days: float | None = None,
        risk: float = 0.0,  # the account's own risk score (0..1)
        harvest: float = 0.0,  # share of harvest-shaped content in its recent traffic (0..1)
        features: dict[str, float] | None = None,  # small, bounded summary
        org_id: str = "",  # billing org of the account ("" when none): one org is one customer
        prompt_fp: int = 0,  # SimHash of the latest prompt (0 when unknown), for template keys
        flags: int = 0,  # content flags of the latest event (app.core.text)
    ) -> None:
        self.account_id = account_id
        self.ts = ts
        self.keys = keys
        self.events = events
        self.model = model
        self.account_age_days = account_age_days
        self.risk = risk
        self.harvest = harvest
        self.features: dict[str, float] = {} if features is None else features
        self.org_id = org_id
        self.prompt_fp = prompt_fp
        self.flags = flags

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AccountSignal) and self.to_list() == other.to_list()

    def __repr__(self) -> str:
        return f"AccountSignal({self.to_dict()!r})"

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict (for re-keyed internal topics)."""
        return {
            "account_id": self.account_id,
            "ts": self.ts,
            "keys": list(self.keys),
            "events": self.events,
            "model": self.model,
            "account_age_days": self.account_age_days,
            "risk": self.risk,
            "harvest": self.harvest,
            "features": self.features,
            "org_id": self.org_id,
            "prompt_fp": self.prompt_fp,
            "flags": self.flags,
        }

    def to_list(self) -> list[object]:
        """Return the compact form of the re-keyed internal topic: the fields in order."""
        return [
            self.account_id, self.ts, list(self.keys), self.events, self.model,
            self.account_age_days, self.risk, self.harvest, self.features, self.org_id,
            self.prompt_fp, self.flags,
        ]  # fmt: skip

    @classmethod
    def from_list(cls, data: list[Any]) -> AccountSignal:
        """Inverse of :meth:`to_list`; raise ValueError (or TypeError) if malformed."""
        if len(data) != 12:
            raise ValueError(f"an account signal has 12 fields, got {len(data)}")
        account_id, ts, keys, events, model, age, risk, harvest, features, org, fp, flags = data
        return cls(
            str(account_id), float(ts), tuple(str(k) for k in keys), int(events), str(model),
            None if age is None else float(age), float(risk), float(harvest),
            _features(features), str(org), _fingerprint(fp), int(flags),
        )  # fmt: skip

    @classmethod
    def decode(cls, body: Any) -> AccountSignal:
        """A signal from an internal topic entry: the compact list, or the dict form that
        workers of earlier versions write (so a rolling upgrade loses nothing)."""
        if isinstance(body, list):
            return cls.from_list(body)
        if isinstance(body, dict):
            return cls.from_dict(body)
        raise TypeError(f"an account signal is a list or an object, not {type(body).__name__}")

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> AccountSignal:
        """Inverse of :meth:`to_dict`."""
        return cls(
            account_id=str(data["account_id"]),
            ts=float(data["ts"]),  # type: ignore[arg-type]
            keys=tuple(data.get("keys") or ()),  # type: ignore[arg-type]
            events=int(data.get("events") or 1),  # type: ignore[call-overload]
            model=str(data.get("model") or ""),
            account_age_days=data.get("account_age_days"),  # type: ignore[arg-type]
            risk=float(data.get("risk") or 0.0),  # type: ignore[arg-type]
            harvest=float(data.get("harvest") or 0.0),  # type: ignore[arg-type]
            features=_features(data.get("features") or {}),
            org_id=str(data.get("org_id") or ""),
            prompt_fp=_fingerprint(data.get("prompt_fp") or 0),
            flags=int(data.get("flags") or 0),  # type: ignore[call-overload]
        )


def _features(value: Any) -> dict[str, float]:
    """A signal's feature summary from the wire: names to finite numbers (not strings or
    booleans, which float() would take), else TypeError or ValueError."""
    if not isinstance(value, dict):
        raise TypeError(f"signal features are an object, not {type(value).__name__}")
    out: dict[str, float] = {}
    for name, x in value.items():
        kind = type(x)  # exact types: bool is an int to isinstance
        if kind is float:
            number = x
        elif kind is int:
            number = float(x)
        else:
            raise TypeError(f"signal feature {name!r} is not a number")
        if not math.isfinite(number):
            raise ValueError(f"signal feature {name!r} is not finite")
        out[str(name)] = number
    return out


def _fingerprint(value: Any) -> int:
    """A 64-bit SimHash from the wire (0 when unknown): an integer in range, else
    TypeError or ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("a prompt fingerprint is an integer")
    if not 0 <= value < 1 << 64:
        raise ValueError("a prompt fingerprint is an unsigned 64-bit number")
    return int(value)


def decode_signal_entries(data: Any) -> list[tuple[AccountSignal, list[str]]]:
    """The entries of one message of the re-keyed signal topic, as JSON-decoded: each a
    signal (either wire form, :meth:`AccountSignal.decode`) and the keys of it that the
    message's partition carries. Raise TypeError or ValueError (KeyError from the dict
    form) on anything else.

    Compiled with the core: the worker decodes every delivery of every signal here.
    """
    if not isinstance(data, list):
        raise TypeError(f"a signal message is a list of entries, not {type(data).__name__}")
    out: list[tuple[AccountSignal, list[str]]] = []
    for entry in data:
        if not isinstance(entry, list) or len(entry) != 2:
            raise ValueError("a signal message entry is a [signal, keys] pair")
        body, keys = entry
        if not isinstance(keys, list):
            raise TypeError(f"a signal entry's keys are a list, not {type(keys).__name__}")
        only: list[str] = []
        for key in keys:
            if not isinstance(key, str):
                raise TypeError(f"a signal key is a string, not {type(key).__name__}")
            only.append(key)
        out.append((AccountSignal.decode(body), only))
    return out
