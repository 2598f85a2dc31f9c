"""What the worker does with one batch of input records, free of Faust so it can be tested pure."""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from app.core.coordination import routed_keys
from app.core.types import AccountSignal, Detection
from app.errors import EventError
from app.events import Event, parse_event
from app.partition import partition_of
from app.stream.dlq import DeadLetter, dead_letter

log = logging.getLogger(__name__)
PROCESSING_ERROR = "processing_error"  # DLQ reason: valid input the detector failed on
SIGNALS_PER_MESSAGE = 500  # entries per internal signal message (a few hundred KB at most)


@functools.lru_cache(maxsize=1 << 16)
def key_partition(key: str, partitions: int) -> int:
    """The partition of the re-keyed signal topic that carries a coordination key.

    It is the producer's default partition for the key (murmur2, as Kafka's and aiokafka's
    default partitioners compute it), so the ``coordination-groups`` table record of a
    group lands on the partition of the signals that build it, and the worker that owns
    the one restores the other.
    """
    return partition_of(key.encode(), partitions)


@dataclass(slots=True, frozen=True)
class Record:
    """One consumed Kafka message and where it came from."""

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int


class Consumed(Protocol):
    """What the pipeline reads of a consumed message: a :class:`Record` or aiokafka's
    ``ConsumerRecord`` as the consumer's batch lane hands it over."""

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


class AccountStage(Protocol):
    """The per-account part of the detection core, as the worker uses it."""

    def process_account(self, event: Event) -> tuple[list[Detection], AccountSignal | None]:
        """Score, then learn, one event; return detections and an optional signal."""
        ...


class FindingPolicy(Protocol):
    """The alert policy: detections in, OCSF findings out."""

    def apply(self, detection: Detection) -> list[dict[str, Any]]:
        """Return the findings (new or update) this detection causes, maybe none."""
        ...


@dataclass(slots=True)
class BatchOutput:
    """Everything one batch produces, for the agent to send and count."""

    valid: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    dlq_reasons: Counter[str] = field(default_factory=Counter)
    findings: list[dict[str, Any]] = field(default_factory=list)
    # Account signals with coordination keys (see :func:`route_signals`).
    signals: list[AccountSignal] = field(default_factory=list)
    # The signal topic's messages for the partitions other workers own (set by the worker).
    signal_messages: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    detections: int = 0
    event_ts: list[float] = field(default_factory=list)
    partition_ts: dict[int, float] = field(default_factory=dict)  # newest event time per partition


@dataclass(slots=True)
class Routed:
    """Where one batch's signals go: coordination here, or the re-keyed signal topic."""

    # (signal, its keys whose partitions this worker owns): observed in-process, at once.
    local: list[tuple[AccountSignal, list[str]]] = field(default_factory=list)
    # (partition, key, value) messages for the partitions other workers own.
    messages: list[tuple[int, bytes, bytes]] = field(default_factory=list)


def route_signals(
    signals: Sequence[AccountSignal],
    partitions: int,
    local: frozenset[int],
    per_message: int = SIGNALS_PER_MESSAGE,
) -> Routed:
    """Split a batch's signals between this worker's coordination and the signal topic.

    Each key's partition is :func:`key_partition`, so every signal of one key reaches the
    one worker that owns the key's group. Only the keys groups form on travel
    (:func:`~app.core.coordination.routed_keys`); the signal itself keeps all its keys.
    The keys of partitions in ``local`` (the signal partitions assigned to this worker)
    stay here: one delivery with all of them, no round trip through the broker. The rest
    go out as messages of up to ``per_message`` entries ``[signal, [keys of this
    partition]]``, the signal in its compact list form (:meth:`AccountSignal.to_list`),
    encoded once however many partitions it goes to: a signal travels once per partition
    its keys fall in, not once per key, and a batch is a handful of messages.
    """
    dumps = orjson.dumps
    routed = Routed()
    if len(local) >= partitions and local.issuperset(range(partitions)):
        # One worker (or one owning every signal partition): every key stays, unhashed.
        for signal in signals:
            keys = routed_keys(signal.keys)
            if keys:
                routed.local.append((signal, keys))
        return routed
    by_partition: dict[int, list[bytes]] = {}
    for signal in signals:
        here: list[str] = []
        split: dict[int, list[str]] = {}
        for key in routed_keys(signal.keys):
            p = key_partition(key, partitions)
            if p in local:
                here.append(key)
            else:
                split.setdefault(p, []).append(key)
        if here:
            routed.local.append((signal, here))
        if split:
            body = dumps(signal.to_list())
            for p, keys in split.items():
                by_partition.setdefault(p, []).append(_entry(body, keys))
    for p, entries in sorted(by_partition.items()):
        name = f"signals-{p}".encode()
        for i in range(0, len(entries), per_message):
            routed.messages.append((p, name, b"[" + b",".join(entries[i : i + per_message]) + b"]"))
    return routed


def _entry(body: bytes, keys: list[str]) -> bytes:
    """One entry of a signal message: the encoded signal and its keys in the partition."""
    return b"[" + body + b"," + orjson.dumps(keys) + b"]"


def signal_message(signal: AccountSignal, keys: list[str]) -> bytes:
    """One signal as a message of the signal topic holding it alone (for the DLQ)."""
    return b"[" + _entry(orjson.dumps(signal.to_list()), keys) + b"]"


class Pipeline:
    """Decode + validate + detect for a batch; invalid input becomes dead letters."""

    def __init__(
        self,
        stage: AccountStage | None = None,
        policy: FindingPolicy | None = None,
        max_event_bytes: int = 65536,
    ) -> None:
        self.stage = stage
        self.policy = policy
        self.max_event_bytes = max_event_bytes

    def handle(self, records: Sequence[Consumed], now: float) -> BatchOutput:
        """Process ``records`` in order; ``now`` (wall clock) only stamps dead letters."""
        out = BatchOutput()
        failed = 0
        for rec in records:
            try:
                event = parse_event(rec.value, self.max_event_bytes)
            except EventError as exc:
                out.dead_letters.append(
                    dead_letter(
                        rec.key,
                        rec.value,
                        exc.reason,
                        exc.detail,
                        rec.topic,
                        rec.partition,
                        rec.offset,
                        now,
                    )
                )
                out.dlq_reasons[exc.reason] += 1
                continue
            if self.stage is not None:
                try:
                    detections, signal = self.stage.process_account(event)
                    if detections:
                        self.apply_detections(detections, out)
                except Exception as exc:  # a bug must not stop the partition: keep the event
                    failed += 1
                    if failed == 1:  # one traceback per batch; the DLQ and its metric count all
                        log.exception(
                            "detection failed on %s[%s]@%s; the event is kept in the DLQ",
                            rec.topic, rec.partition, rec.offset,
                        )  # fmt: skip
                    out.dead_letters.append(
                        dead_letter(
                            rec.key,
                            rec.value,
                            PROCESSING_ERROR,
                            f"detection failed on this event ({type(exc).__name__}); "
                            "it can be replayed from here once fixed",
                            rec.topic,
                            rec.partition,
                            rec.offset,
                            now,
                        )
                    )
                    out.dlq_reasons[PROCESSING_ERROR] += 1
                    continue
                if signal is not None and signal.keys:
                    out.signals.append(signal)
            out.valid += 1
            out.event_ts.append(event.ts)
            if event.ts > out.partition_ts.get(rec.partition, 0.0):
                out.partition_ts[rec.partition] = event.ts
        if failed > 1:
            log.error("detection failed on %d events of this batch, all kept in the DLQ", failed)
        return out

    def apply_detections(self, detections: list[Detection], out: BatchOutput) -> None:
        """Run detections through the policy, adding the findings to ``out``."""
        out.detections += len(detections)
        if self.policy is None:
            return
        for detection in detections:
            out.findings.extend(self.policy.apply(detection))
