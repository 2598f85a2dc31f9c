"""WorkerProcess's metrics client: a worker that dies mid-answer reads as unreachable."""

from __future__ import annotations

import socket
import threading
from typing import Any

from app.stream.process import WorkerProcess


def test_an_answer_cut_short_reads_as_unreachable_not_an_exception() -> None:
    # What a scrape sees when the worker is killed (-9) while it answers: a promised body
    # that never comes. Scraper threads in the fault tests must go on, not die.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer_then_die() -> None:
        conn, _ = server.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\nabc")
        conn.close()

    thread = threading.Thread(target=answer_then_die, daemon=True)
    thread.start()
    worker: Any = object.__new__(WorkerProcess)
    worker.metrics_port = server.getsockname()[1]
    try:
        assert worker.get("/metrics", timeout=5) == (0, "")
    finally:
        thread.join(5)
        server.close()
