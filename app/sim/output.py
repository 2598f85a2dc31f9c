"""Write simulated events to a JSONL file (gzip by suffix) or to a Kafka topic, keyed by account."""

from __future__ import annotations

import gzip
import io
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from app.errors import BrokerError, InputFileError

Progress = Callable[[int, float], None]
PROGRESS_EVERY = 50_000
_BATCH = 4096


def open_output(path: str | Path) -> IO[bytes]:
    """Open ``path`` for writing bytes; gzip (reproducible: no name, no mtime) if it ends in .gz."""
    p = Path(path)
    try:
        raw = p.open("wb")
    except OSError as exc:
        raise InputFileError(f"cannot write {p}: {exc.strerror or exc}") from None
    if p.suffix == ".gz":
        return gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0)  # type: ignore[return-value]
    return raw


def write_jsonl(
    events: Iterable[dict[str, Any]], path: str | Path, progress: Progress | None = None
) -> int:
    """Write events as JSON lines to ``path`` (gzipped when it ends in .gz); return the count."""
    out = open_output(path)
    count = 0
    try:
        buf: list[bytes] = []
        dumps, opt = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        for ev in events:
            buf.append(dumps(ev, option=opt))
            count += 1
            if len(buf) >= _BATCH:
                out.write(b"".join(buf))
                buf.clear()
                if progress is not None and count % PROGRESS_EVERY < _BATCH:
                    progress(count, ev["ts"])
        out.write(b"".join(buf))
    finally:
        raw = getattr(out, "fileobj", None)
        out.close()
        if isinstance(raw, io.IOBase):
            raw.close()
    return count


def send_kafka(
    events: Iterable[dict[str, Any]],
    bootstrap: str | list[str],
    topic: str,
    speed: float | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    **producer_config: Any,
) -> int:
    """Send events to ``topic`` keyed by account_id; ``speed`` paces them at that many times real time.

    Without ``speed`` events go as fast as the producer takes them. ``stop`` ends early. Returns
    the number of events handed to the producer (all delivered when this returns).
    """
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    if speed is not None and speed <= 0:
        raise ValueError("speed must be > 0")
    config: dict[str, Any] = {
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "acks": 1,
        "max_request_size": 4 * 1024 * 1024,
    }
    config.update(producer_config)
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap, **config)
    except KafkaError as exc:
        raise BrokerError(f"cannot connect a producer to {bootstrap}: {exc}") from exc
    count = 0
    failures: list[BaseException] = []
    try:
        send, dumps = producer.send, orjson.dumps
        wall0 = time.monotonic()
        ts0: float | None = None
        for ev in events:
            if stop is not None and stop.is_set():
                break
            ts = float(ev["ts"])
            if speed is not None:
                ts0 = ts if ts0 is None else ts0
                delay = (ts - ts0) / speed - (time.monotonic() - wall0)
                if delay > 0.002:
                    if stop is not None:
                        if stop.wait(delay):
                            break
                    else:
                        time.sleep(delay)
            send(topic, key=ev["account_id"].encode(), value=dumps(ev)).add_errback(failures.append)
            count += 1
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count, ts)
        producer.flush()
    except KafkaError as exc:
        raise BrokerError(f"sending to {topic} on {bootstrap} failed: {exc}") from exc
    finally:
        producer.close()
    if failures:
        raise BrokerError(f"sending to {topic} on {bootstrap} failed: {failures[0]}")
    return count
