"""Scenario files: population, duration, model release and campaigns, read from TOML.

Every numeric behaviour parameter is a range ``[lo, hi]`` (or one number); the generator
draws a value per account or per campaign, so no single value is a tell.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from app.errors import ScenarioError
from app.sim.defaults import ARCHETYPE_PARAMS, BENIGN_COUNTS, CAMPAIGN_KINDS, CAMPAIGN_PARAMS

SCENARIO_DIR = Path(__file__).with_name("scenarios")
Range = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Release:
    """A new model that becomes available at ``at_hours`` after the scenario start."""

    model: str
    at_hours: float


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """One campaign: a named kind, its time window, its size and its parameter ranges."""

    id: str
    kind: str
    start_hours: float
    end_hours: float
    accounts: Range
    params: dict[str, Range]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A complete, validated scenario."""

    name: str
    seed: int
    start_ts: float
    duration_hours: float
    models: tuple[str, ...]
    release: Release | None
    benign: dict[str, int]
    archetypes: dict[str, dict[str, Range]]
    campaigns: tuple[CampaignSpec, ...]
    description: str = ""
    source: str = field(default="", compare=False)

    @property
    def end_ts(self) -> float:
        """Event time at which the scenario ends."""
        return self.start_ts + self.duration_hours * 3600.0


def _range(value: Any, where: str) -> Range:
    if isinstance(value, bool):
        raise ScenarioError(f"{where}: expected a number or [lo, hi], got a boolean")
    if isinstance(value, int | float):
        return (float(value), float(value))
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) for v in value)
    ):
        lo, hi = float(value[0]), float(value[1])
        if lo > hi:
            raise ScenarioError(f"{where}: range [{lo}, {hi}] has lo > hi")
        return (lo, hi)
    raise ScenarioError(f"{where}: expected a number or [lo, hi], got {value!r}")


def _params(raw: dict[str, Any], defaults: dict[str, Range], where: str) -> dict[str, Range]:
    unknown = sorted(set(raw) - set(defaults))
    if unknown:
        raise ScenarioError(
            f"{where}: unknown parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(defaults))})"
        )
    out = dict(defaults)
    out.update({k: _range(v, f"{where}.{k}") for k, v in raw.items()})
    return out


def _start(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ScenarioError(f"start {value!r} is not an RFC 3339 time") from None
        if dt.tzinfo is None:
            raise ScenarioError(f"start {value!r} has no time zone offset")
        return dt.timestamp()
    raise ScenarioError("start must be an RFC 3339 time such as 2026-03-02T00:00:00Z")


def _campaign(raw: dict[str, Any], duration: float, index: int) -> CampaignSpec:
    where = f"campaigns[{index}]"
    raw = dict(raw)
    kind = raw.pop("kind", None)
    if kind not in CAMPAIGN_KINDS:
        raise ScenarioError(
            f"{where}: kind must be one of {', '.join(CAMPAIGN_KINDS)}, got {kind!r}"
        )
    cid = str(raw.pop("id", f"{kind}-{index + 1}"))
    start = float(raw.pop("start_hours", 0.0))
    end = float(raw.pop("end_hours", duration))
    if not 0 <= start < end <= duration:
        raise ScenarioError(f"{where} ({cid}): need 0 <= start_hours < end_hours <= duration_hours")
    accounts = _range(raw.pop("accounts", CAMPAIGN_PARAMS[kind]["accounts"]), f"{where}.accounts")
    if accounts[0] < 1:
        raise ScenarioError(f"{where} ({cid}): accounts must be >= 1")
    defaults = {k: v for k, v in CAMPAIGN_PARAMS[kind].items() if k != "accounts"}
    return CampaignSpec(cid, kind, start, end, accounts, _params(raw, defaults, f"{where} ({cid})"))


def scenario_from_dict(raw: dict[str, Any], source: str = "") -> Scenario:
    """Validate a decoded scenario and build the :class:`Scenario`."""
    try:
        duration = float(raw.get("duration_hours", 24.0))
        if not 0 < duration <= 24 * 31:
            raise ScenarioError("duration_hours must be between 0 and 744")
        models = tuple(str(m) for m in raw.get("models", ()))
        if not models:
            raise ScenarioError("models must list at least one model name")
        release = None
        if "release" in raw:
            rel = raw["release"]
            release = Release(str(rel["model"]), float(rel["at_hours"]))
            if release.model in models or not 0 <= release.at_hours < duration:
                raise ScenarioError(
                    "release.model must be a new name and release.at_hours inside the scenario"
                )
        benign_raw = dict(raw.get("benign", {}))
        unknown = sorted(set(benign_raw) - set(BENIGN_COUNTS))
        if unknown:
            raise ScenarioError(
                f"benign: unknown archetype(s) {', '.join(unknown)} (known: {', '.join(BENIGN_COUNTS)})"
            )
        benign = {k: int(benign_raw.get(k, 0)) for k in BENIGN_COUNTS}
        if any(v < 0 for v in benign.values()):
            raise ScenarioError("benign: counts must be >= 0")
        arche_raw = raw.get("archetypes", {})
        bad = sorted(set(arche_raw) - set(ARCHETYPE_PARAMS))
        if bad:
            raise ScenarioError(f"archetypes: unknown archetype(s) {', '.join(bad)}")
        archetypes = {
            name: _params(arche_raw.get(name, {}), defaults, f"archetypes.{name}")
            for name, defaults in ARCHETYPE_PARAMS.items()
        }
        campaigns = tuple(_campaign(c, duration, i) for i, c in enumerate(raw.get("campaigns", [])))
        ids = [c.id for c in campaigns]
        if len(set(ids)) != len(ids):
            raise ScenarioError("campaign ids must be unique")
        if any(c.kind == "release-pivot" for c in campaigns) and release is None:
            raise ScenarioError("a release-pivot campaign needs a [release] table")
        return Scenario(
            name=str(raw.get("name", "unnamed")),
            seed=int(raw.get("seed", 0)),
            start_ts=_start(raw.get("start", "2026-03-02T00:00:00Z")),
            duration_hours=duration,
            models=models,
            release=release,
            benign=benign,
            archetypes=archetypes,
            campaigns=campaigns,
            description=str(raw.get("description", "")),
            source=source,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"scenario {source or raw.get('name', '?')}: {exc}") from None


def builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped with the simulator."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name (``standard``, ``smoke``, ``demo``) or a TOML file."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = SCENARIO_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ScenarioError(
                f"unknown scenario {name_or_path!r} (built-in: {', '.join(builtin_scenarios())})"
            )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {path} is not valid TOML: {exc}") from None
    return scenario_from_dict(raw, source=str(path))
