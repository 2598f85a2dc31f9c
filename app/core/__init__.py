"""The pure detection core: no Kafka, no Faust. Event time is the only clock.

``make compile`` builds these modules (and ``app.events``, ``app.partition``) into C
extensions with mypyc;
Python imports an extension before the source beside it, so a source edited after the
build would be ignored. That is reported here, once, at import.
"""

from __future__ import annotations

import warnings
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path


def compiled_sources() -> list[Path]:
    """The sources ``make compile`` builds: this package's modules, app/events.py and
    app/partition.py."""
    here = Path(__file__).parent
    core = sorted(p for p in here.glob("*.py") if p.name != "__init__.py")
    return [*core, here.parent / "events.py", here.parent / "partition.py"]


def _stale_extensions() -> list[str]:
    """Compiled sources newer than their extension."""
    out = []
    for src in compiled_sources():
        for suffix in EXTENSION_SUFFIXES:
            ext = src.with_name(src.stem + suffix)
            if ext.exists() and ext.stat().st_mtime < src.stat().st_mtime:
                out.append(str(src))
    return out


if stale := _stale_extensions():
    warnings.warn(
        f"compiled core older than its sources ({', '.join(stale)}): the old build runs; "
        "run `make compile` again, or `make clean-compiled` for pure Python",
        RuntimeWarning,
        stacklevel=1,
    )
