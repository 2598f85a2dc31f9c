"""Fault injection for worker processes the tests start with this folder on PYTHONPATH:
the coordination stage raises on every signal of ``FAULT_INJECT_ACCOUNT``, as a bug
in the core would. Python imports ``sitecustomize`` at start-up; nothing else loads this.
"""

from __future__ import annotations

import os

_FAULTY = os.environ.get("FAULT_INJECT_ACCOUNT")

if _FAULTY:
    import app.stream.worker as _worker

    _Engine = _worker.Engine

    class FaultyEngine:
        """The worker's engine (compiled or not), delegating all but one call."""

        def __init__(self, *args, **kwargs) -> None:
            self._engine = _Engine(*args, **kwargs)

        def __getattr__(self, name: str):
            return getattr(self._engine, name)

        def observe_signal(self, signal, only=None):
            if signal.account_id == _FAULTY:
                raise RuntimeError("fault injected by the test")
            return self._engine.observe_signal(signal, only)

    _worker.Engine = FaultyEngine
