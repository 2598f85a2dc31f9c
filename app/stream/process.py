"""Run ``abuse-detector worker`` as a child process (demo, tests, benchmarks)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from app.broker import _die_with_parent, free_port
from app.errors import BrokerError


class WorkerProcess:
    """A worker child process bound to one (embedded) broker; always reaped on exit."""

    def __init__(
        self,
        broker_url: str,
        app_id: str,
        env: dict[str, str] | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        self.metrics_port = free_port()
        self.app_id = app_id
        self._data_dir = tempfile.mkdtemp(prefix=f"{app_id}-")
        self.env = {
            **os.environ,
            "ABUSE_BROKER_URL": broker_url,
            "ABUSE_APP_ID": app_id,
            "ABUSE_METRICS_PORT": str(self.metrics_port),
            "ABUSE_SESSION_TIMEOUT_SECONDS": "4",
            "ABUSE_DATA_DIR": self._data_dir,
            # The embedded broker's end offsets lag the records it serves: Faust's recovery
            # check would stop a worker that read a changelog past them (docs/reliability.md).
            "ABUSE_RECOVERY_CONSISTENCY_CHECK": "false",
            **(env or {}),
        }
        self.log_path = Path(log_path) if log_path else Path(self._data_dir) / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        """Start the child; returns at once (see :meth:`wait_ready`)."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli.main", "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        log.close()
        return self

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        """True while the child runs."""
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str, timeout: float = 2.0) -> tuple[int, str]:
        """GET a path of the worker's metrics server; (status, body), status 0 if unreachable."""
        url = f"http://127.0.0.1:{self.metrics_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""
        except (OSError, http.client.HTTPException):  # down, or died mid-answer (kill -9)
            return 0, ""

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Block until /ready answers 200; return the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if not self.alive():
                raise BrokerError(
                    f"worker exited early (code {self.proc and self.proc.returncode}): {self.log_tail()}"
                )
            if self.get("/ready")[0] == 200:
                return time.monotonic() - started
            time.sleep(0.2)
        raise BrokerError(f"worker not ready after {timeout:.0f}s: {self.log_tail()}")

    def metric(self, name: str) -> float:
        """Sum of all samples of one metric on the worker's /metrics (0 if absent)."""
        status, body = self.get("/metrics")
        total = 0.0
        if status == 200:
            for line in body.splitlines():
                if line.startswith(name) and (line[len(name)] in " {"):
                    with contextlib.suppress(ValueError):
                        total += float(line.rsplit(" ", 1)[1])
        return total

    def log_tail(self, max_bytes: int = 3000) -> str:
        """The end of the worker's log."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-max_bytes:].decode("utf-8", "replace")

    def kill(self) -> None:
        """SIGKILL the child (crash test) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait, then SIGKILL; return the exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        return proc.returncode

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
