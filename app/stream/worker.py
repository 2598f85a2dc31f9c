"""The Faust worker: batch handlers stay short — decode, call the core, send, count."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Container, Sequence
from typing import Any, cast

import faust
import orjson
from mode.utils.tracebacks import format_task_stack

from app.broker import create_topics
from app.core.engine import Engine
from app.core.types import AccountSignal, Detection, decode_signal_entries
from app.findings.ocsf import ACTIVITY_CLOSE
from app.findings.policy import AlertPolicy, Closing, closing_record, read_record
from app.findings.suppress import Suppressions
from app.metrics import Metrics, start_http_server
from app.partition import partition_of
from app.settings import Settings
from app.stream.app import build_app
from app.stream.dlq import dead_letter
from app.stream.feedback import follow_feedback
from app.stream.pipeline import (
    PROCESSING_ERROR,
    BatchOutput,
    Consumed,
    Pipeline,
    Record,
    key_partition,
    route_signals,
    signal_message,
)
from app.stream.state import ChangelogBatches, CheckpointedEngine, partition_writer, table_writer
from app.stream.watermark import Watermark

log = logging.getLogger(__name__)
ACTIVITY = {1: "new", 2: "update", 3: "close"}
UNSENT_TRIES = 5  # checkpoints in a row a finding is offered to the broker before it is dropped


def task_stacks() -> str:
    """Every asyncio task of this loop with where it waits, following its chain of awaits
    (mode's formatter, without local variables: code locations only)."""
    return "".join(format_task_stack(task) for task in asyncio.all_tasks())


def tune_gc(young: int) -> None:
    """Let Python's cyclic collector scan its young generation every ``young`` net
    allocations of container objects instead of every 700 (0: leave Python's settings).

    Events, signals and their batches are freed by reference counting; the collector only
    looks for cycles, and at Python's default it ran hundreds of times a second in a busy
    worker (docs/performance.md). The older generations keep Python's ratios to it.
    """
    if young > 0:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(young, older, oldest)


class BoundedShutdownWorker(faust.Worker):
    """Faust's worker, whose stop is bounded in time, on a signal or after a crash.

    A graceful stop commits offsets and flushes the producer; with the broker unreachable
    it can wait for good, and a worker that ignores SIGTERM is one an orchestrator (or a
    dead parent) can only SIGKILL. After ``shutdown_timeout`` seconds the process exits
    without it: whatever was not committed is delivered again (at least once).
    """

    def __init__(self, *args: Any, shutdown_timeout: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shutdown_timeout = shutdown_timeout
        self._watchdog: threading.Timer | None = None

    def _schedule_shutdown(self, signal: Any) -> None:
        self._start_watchdog(getattr(signal, "name", str(signal)))
        super()._schedule_shutdown(signal)

    def on_worker_shutdown(self) -> None:
        """The worker stops for any reason (a crash too): bound the stop that follows."""
        super().on_worker_shutdown()
        self._start_watchdog("a crash" if self.crash_reason else "the app stopped")

    def cancel_watchdog(self) -> None:
        """The stop finished in time: the watchdog has nothing left to end."""
        if self._watchdog is not None:
            self._watchdog.cancel()

    def _start_watchdog(self, reason: str) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Timer(self._shutdown_timeout, self._give_up, (reason,))
            self._watchdog.daemon = True
            self._watchdog.start()

    def _give_up(self, reason: str) -> None:
        log.error(
            "graceful stop after %s did not finish within %.0f s (broker unreachable?); "
            "exiting now, uncommitted events will be delivered again",
            reason, self._shutdown_timeout,
        )  # fmt: skip
        logging.shutdown()
        os._exit(1)


class DetectorWorker:
    """One worker process: the Faust app, its batch handlers, and the pipeline they call."""

    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.app, self.topics = build_app(settings)
        self.engine = Engine(seed=settings.seed)
        suppressions = Suppressions()
        if settings.allowlist_file:
            suppressions.load_file(settings.allowlist_file)
        self.policy = AlertPolicy(suppressions=suppressions)
        tables: dict[str, Any] = {
            "key_type": bytes,
            "value_type": bytes,
            "partitions": settings.partitions,
            "use_partitioner": True,
        }
        self.account_table = self.app.Table("account-state", **tables)
        # A finding record is filed under its finding's home partition (``_home``), not its
        # key's: the worker that owns the account (or the campaign's first group) owns it.
        self.finding_table = self.app.Table(
            "finding-records", **{**tables, "use_partitioner": False}
        )
        self.link_table = self.app.Table("campaign-links", **tables)
        self.group_table = self.app.Table("coordination-groups", **tables)
        self.policy.loader = lambda uid: self.finding_table.get(uid.encode())
        self.policy.home = self._home
        # Table writes name their partition: Faust's RocksDB store needs one outside a stream.
        named = not settings.store_url.startswith("memory:")
        self._accounts_out = ChangelogBatches(self.account_table, settings.partitions, named)
        self._put_finding = partition_writer(self.finding_table)
        self._put_link = table_writer(self.link_table, settings.partitions, named)
        self._put_group = table_writer(self.group_table, settings.partitions, named)
        self.stage = CheckpointedEngine(self.engine, self.account_table)
        self.pipeline = Pipeline(self.stage, self.policy, max_event_bytes=settings.max_event_bytes)
        self._assigned = False
        self.watermark = Watermark()
        # Findings that go out ahead of the next publish: a failed checkpoint's, and closes
        # read back from their closing records after a restart.
        self._unsent: list[dict[str, Any]] = []
        self._unsent_tries = 0
        # Uids whose finding record is a closing record, with its partition: emptied once
        # the close is out.
        self._closing: dict[str, int] = {}
        self._owned: set[int] = set()  # partitions of the consumed topics assigned to us
        # The signal topic's partitions assigned to us: their keys' signals are observed
        # here without a round trip through the topic (empty while unassigned).
        self._local_signals: frozenset[int] = frozenset()
        self._warned_partitions = False
        # Held from a batch's detections to the end of its publish, and by a checkpoint: a
        # checkpoint must not write the record of a finding whose publish is still on its way.
        self._publishing = asyncio.Lock()
        # Other workers' signals reach this worker's coordination through the signal topic,
        # behind its own events: campaign findings must not close on the events' clock
        # while such signals wait on its partitions. The event time read from there so far.
        self.signal_watermark = Watermark()
        self._suppressed_seen: dict[tuple[str, str], int] = {}
        self._progress = time.monotonic()  # when a batch of events or signals last finished
        self._stalled = False
        self._signal_partitions = settings.partitions  # checked against the topic once assigned
        self._groups_saved = 0.0  # monotonic time fired groups were last written
        # Set by the feedback follower once it has read every verdict given before it
        # started, or by the first batch when it stops waiting (``feedback_wait_seconds``).
        self.feedback_caught_up = asyncio.Event()
        # The topics the worker consumes (changelogs and the assignor topic are our own writes).
        self._consumed = {self.topics.events.get_topic_name(), self.topics.signals.get_topic_name()}
        self._topic_names = {
            "dlq": settings.dlq_topic,
            "alerts": settings.alerts_topic,
            "signals": self.topics.signals.get_topic_name(),
        }
        self._register()

    def ready(self) -> bool:
        """True while the worker holds an assignment of its group and is not stopping (a
        rebalance's revocation, a stop or a crash make it False until the next assignment)."""
        return self._assigned and not self.app.should_stop

    def _register(self) -> None:
        app, topics, settings = self.app, self.topics, self.settings

        # The worker's two input topics go through the consumer's batch lane (see
        # app/stream/transport.py): each fetch's records in one call, acked once handled.
        for topic, handler in (
            (topics.events, self.on_events),
            (topics.signals, self.on_signals),
        ):
            app.topics.add(topic)  # subscribed, with acks, like an agent's topic
            app.batch_handlers[topic.get_topic_name()] = handler

        @app.task
        async def feedback() -> None:
            """Apply analyst verdicts as they arrive."""
            await follow_feedback(
                settings, self.policy, self.metrics, caught_up=self.feedback_caught_up
            )

        @app.timer(interval=settings.checkpoint_seconds)
        async def checkpoint() -> None:
            """Write changed state to the changelog tables; close quiet findings."""
            try:
                await self.checkpoint()
            except Exception:  # retried next time; a timer error must never stop the worker
                log.exception("checkpoint failed; will retry")

        @app.timer(interval=5.0)
        async def report_state() -> None:
            """Refresh the state and lag gauges."""
            try:
                self.report_state()
            except Exception:
                log.exception("could not refresh state gauges")

        @self.finding_table.on_recover  # type: ignore[misc]
        async def restore_findings() -> None:
            """Reload open finding records after recovery, so a finding open at a crash closes."""
            restored = self.restore_open_findings()
            if restored:
                log.info("restored %d open findings from the table", restored)

        @self.link_table.on_recover  # type: ignore[misc]
        async def restore_links() -> None:
            """Reload member-to-campaign links, so campaigns keep their uid across restarts."""
            coordination = self.engine.coordination
            if coordination is not None:
                n = self._import_table(self.link_table, coordination.import_link, "campaign link")
                if n:
                    log.info(
                        "restored %d campaign links (members and group keys) from the table", n
                    )

        @self.group_table.on_recover  # type: ignore[misc]
        async def restore_groups() -> None:
            """Reload the groups that fired, so a campaign goes on naming members at once."""
            coordination = self.engine.coordination
            if coordination is not None:
                n = self._import_table(
                    self.group_table,
                    lambda key, value: coordination.import_group(key.decode(), value),
                    "coordination group",
                )
                if n:
                    log.info("restored %d fired coordination groups from the table", n)

        @app.on_partitions_assigned.connect  # type: ignore[misc,arg-type]
        async def on_assigned(app: faust.App, assigned: Any, **kwargs: Any) -> None:
            self._check_partitions()
            owned = self._partitions_of(assigned)
            self.forget(self._owned - owned)
            self._owned = owned
            signals = self._topic_names["signals"]
            self._local_signals = frozenset(tp.partition for tp in assigned if tp.topic == signals)
            self._assigned = True
            self.metrics.ready.set(1)
            log.info("partitions assigned: %d", len(assigned))

        @app.on_partitions_revoked.connect  # type: ignore[misc,arg-type]
        async def on_revoked(app: faust.App, revoked: Any, **kwargs: Any) -> None:
            """Hand over current state: the next owner of a partition restores it from the
            tables, so write what changed since the last checkpoint before letting go."""
            self._assigned = False
            self._local_signals = frozenset()
            self.metrics.ready.set(0)
            if not revoked:
                return
            try:  # bounded: with the broker gone it would hold the rebalance for good
                await asyncio.wait_for(self._hand_over(), self.settings.shutdown_timeout_seconds)
            except Exception:
                log.exception(
                    "checkpoint at a rebalance failed: the next owners of these partitions "
                    "restore the state of the last checkpoint"
                )

        @app.on_before_shutdown.connect  # type: ignore[misc,arg-type]
        async def on_shutdown(app: faust.App, **kwargs: Any) -> None:
            self.metrics.ready.set(0)

    async def _await_feedback(self) -> None:
        """Hold the first events until the verdicts already given are applied.

        A false-positive verdict given before an account first shows up must suppress the
        finding its first events raise. Bounded by ``feedback_wait_seconds``: with the
        broker unreachable the worker goes on, and the verdicts apply when they arrive.
        """
        wait = self.settings.feedback_wait_seconds
        try:
            if wait > 0:
                await asyncio.wait_for(self.feedback_caught_up.wait(), wait)
        except TimeoutError:
            log.warning(
                "feedback topic %s not read to its end within %.0f s; processing events "
                "anyway (verdicts apply as they arrive)",
                self.settings.feedback_topic, wait,
            )  # fmt: skip
        self.feedback_caught_up.set()  # later batches do not wait

    async def on_events(self, records: list[Any]) -> None:
        """The batch handler of api-events."""
        await self._in_steps(records, self.handle_batch)

    async def on_signals(self, records: list[Any]) -> None:
        """The batch handler of the re-keyed signal topic."""
        await self._in_steps(records, self.handle_signals)

    async def _in_steps(
        self, records: list[Any], handle: Callable[[list[Any]], Awaitable[Any]]
    ) -> None:
        """A fetch's records in steps of at most ``batch_size``, each published before the
        next starts."""
        size = self.settings.batch_size
        for i in range(0, len(records), size):
            await handle(records[i : i + size])
            self._progress = time.monotonic()

    async def handle_batch(self, records: Sequence[Consumed]) -> BatchOutput:
        """Run one batch of api-events through the pipeline and publish what it produced."""
        if not self.feedback_caught_up.is_set():
            await self._await_feedback()
        started = time.perf_counter()
        metrics = self.metrics
        metrics.events_consumed.inc(len(records))
        now = time.time()
        async with self._publishing:
            out = self.pipeline.handle(records, now)
            invalid = len(out.dead_letters)  # the events' (a failed signal's are counted apart)
            self.watermark.advance(out.partition_ts, time.monotonic())
            observed = bool(out.signals) and self._route_signals(out)
            await self.publish(out)
            if observed:
                self._save_links()
        metrics.events_processed.labels(result="ok").inc(out.valid)
        if invalid:
            metrics.events_processed.labels(result="invalid").inc(invalid)
            for reason, count in out.dlq_reasons.items():
                metrics.dlq.labels(reason=reason).inc(count)
        metrics.observe_events(out.event_ts, now)
        metrics.observe_batch(time.perf_counter() - started, len(records))
        return out

    def _route_signals(self, out: BatchOutput) -> bool:
        """Observe the batch's signals under the keys whose signal partitions this worker
        owns, and leave the messages for the others' keys in ``out``; return whether any
        signal was observed here.

        A key's group lives with the owner of its signal partition (co-partitioned with the
        events topic), so keys this worker owns need no round trip through the broker: one
        delivery with all of them, detections in this batch's output. A signal the core
        fails on is kept in the DLQ as the signal message it would have been.
        """
        routed = route_signals(out.signals, self._signal_partitions, self._local_signals)
        out.signal_messages = routed.messages
        failed = 0
        for signal, keys in routed.local:
            error = self._observe(signal, keys, out, signal.account_id, failed == 0)
            if error:
                failed += 1
                self._dead_letter_local(out, signal, keys, error)
        if failed > 1:
            log.error("coordination failed on %d signals of this batch, kept in the DLQ", failed)
        return bool(routed.local)

    def _observe(
        self, signal: AccountSignal, keys: Sequence[str], out: BatchOutput, where: str, log_it: bool
    ) -> str:
        """Fold one signal into coordination under ``keys``, its detections into ``out``;
        return "" or the name of what the core raised. A bug must not stop the partition:
        the caller keeps the signal in the DLQ; the traceback is logged when ``log_it`` (the
        first failure of a batch)."""
        try:
            self.pipeline.apply_detections(self.engine.observe_signal(signal, keys), out)
        except Exception as exc:
            if log_it:
                log.exception(
                    "coordination failed on a signal of %s (%s); it is kept in the DLQ",
                    where, type(exc).__name__,
                )  # fmt: skip
            return type(exc).__name__
        return ""

    def _dead_letter_local(
        self, out: BatchOutput, signal: AccountSignal, keys: list[str], error: str
    ) -> None:
        """Keep a signal observed here that the core failed on: one DLQ record per signal
        partition of its keys, each the signal message that partition would have read, so
        that it can be replayed to the signal topic like any other."""
        by_partition: dict[int, list[str]] = {}
        for key in keys:
            by_partition.setdefault(key_partition(key, self._signal_partitions), []).append(key)
        for p, part in sorted(by_partition.items()):
            message = Record(
                f"signals-{p}".encode(), signal_message(signal, part),
                self._topic_names["signals"], p, -1,
            )  # fmt: skip
            detail = f"coordination failed on its signal ({error}); observed in the worker"
            self._dead_letter_signal(out, message, PROCESSING_ERROR, detail)

    async def handle_signals(self, batch: Sequence[Consumed]) -> None:
        """Feed a batch of re-keyed signal messages to coordination.

        A message holds ``[signal, [keys]]`` entries (see :func:`route_signals`): the keys
        of the signal that this message's partition carries.
        """
        async with self._publishing:
            await self._handle_signals(batch)

    async def _handle_signals(self, batch: Sequence[Consumed]) -> None:
        out = BatchOutput()
        decode = decode_signal_entries
        newest: dict[int, float] = {}  # newest signal time per signal-topic partition
        failures = 0
        for message in batch:
            try:
                entries = decode(orjson.loads(message.value or b""))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                # Only workers write this topic, so this is a bug or a foreign producer: keep
                # the message in the DLQ, where it can be read, and go on.
                log.error(
                    "malformed internal signal message at %s[%s]@%s sent to the DLQ: %s",
                    message.topic, message.partition, message.offset, type(exc).__name__,
                )  # fmt: skip
                detail = f"not a list of [signal, keys] entries ({type(exc).__name__})"
                self._dead_letter_signal(out, message, "internal_signal", detail)
                continue
            failed = 0
            where = f"{message.topic}[{message.partition}]@{message.offset}"
            for signal, keys in entries:
                if self._observe(signal, keys, out, where, failed == failures == 0):
                    failed += 1
            if failed:
                failures += failed
                detail = f"coordination failed on {failed} of its {len(entries)} signals"
                self._dead_letter_signal(
                    out, message, PROCESSING_ERROR, detail + ", not on the rest"
                )
            if entries:
                newest[message.partition] = max(
                    newest.get(message.partition, 0.0), max(sig.ts for sig, _ in entries)
                )
        if failures > 1:
            log.error("coordination failed on %d signals of this batch, kept in the DLQ", failures)
        self.signal_watermark.advance(newest, time.monotonic())
        await self.publish(out)
        # Links go to their table with the batch that made them, once its findings are on
        # the broker (a member's link is made when a detection lists it): a crash before
        # that reads the batch again and names the members again. Faust flushes the
        # producer before it commits these signals' offsets, so a group that fired before
        # a crash keeps its campaign (and finding uid) after it.
        self._save_links()

    def _dead_letter_signal(
        self, out: BatchOutput, message: Consumed, reason: str, detail: str
    ) -> None:
        """Keep one internal signal message in the DLQ, with why and where from."""
        out.dead_letters.append(
            dead_letter(
                message.key,
                message.value,
                reason,
                f"internal signal message: {detail}",
                message.topic,
                message.partition,
                message.offset,
                time.time(),
            )
        )
        self.metrics.dlq.labels(reason=reason).inc()

    def _save_links(self) -> None:
        """Write the campaign links made since the last call to their table."""
        if self.engine.coordination is not None:
            for key, value in self.engine.coordination.export_links():
                self._put_link(key, value)

    async def publish(self, out: BatchOutput) -> None:
        """Send dead letters, findings and signals; wait until the broker has them all.

        Offsets are committed only after this returns, so a crash re-delivers the batch
        (at least once); findings are idempotent by uid downstream. Messages go straight to
        the app's producer: they are bytes already, and Faust's per-message topic machinery
        cost more than everything else in a batch. Findings held back (``_unsent``) go first,
        so a close restored after a restart reaches a consumer before a new lifecycle of
        the same finding does.
        """
        send = self.app.producer.send
        names = self._topic_names
        ahead = len(self._unsent)  # restored closes may join the list while this waits
        findings = self._unsent + out.findings if ahead else out.findings
        pending: list[Awaitable[Any]] = []
        for letter in out.dead_letters:
            pending.append(
                await send(names["dlq"], letter.key, letter.value, None, None, letter.headers)
            )
        for finding in findings:
            info = finding["finding_info"]
            pending.append(
                await send(
                    names["alerts"], info["uid"].encode(), orjson.dumps(finding), None, None, None
                )
            )
            self.metrics.record_finding(
                info["analytic"]["name"],
                str(finding.get("severity", "unknown")).lower(),
                ACTIVITY.get(int(finding.get("activity_id", 0)), "other"),
                finding.get("confidence_score", 0) / 100,
            )
        for partition, key, payload in out.signal_messages:
            pending.append(await send(names["signals"], key, payload, partition, None, None))
        if pending:
            await asyncio.gather(*pending)
        if ahead:
            del self._unsent[:ahead]
            self._unsent_tries = 0
        if self._closing:
            self._settle_closing(findings)

    def _settle_closing(self, sent: list[dict[str, Any]]) -> None:
        """Replace the closing records whose close is now on the broker (it is among
        ``sent`` or went out before): emptied, or, for a finding that opened again since,
        its open record at once (a restart must not send the old close after the new
        lifecycle's findings)."""
        closed = {f["finding_info"]["uid"] for f in sent if f.get("activity_id") == ACTIVITY_CLOSE}
        records = self.policy.records
        for uid, home in list(self._closing.items()):
            record = records.get(uid)
            if record is not None:
                now = self._home_of(uid, record.home)
                self._put_finding(uid.encode(), self.policy.export_record(uid) or b"", now)
                if now != home:
                    self._put_finding(uid.encode(), b"", home)
            elif uid in closed:
                self._put_finding(uid.encode(), b"", home)
            else:
                continue
            del self._closing[uid]

    def _home(self, detection: Detection) -> int:
        """The partition that owns a new finding: its account's (events are keyed by
        account), or for a campaign the signal partition of the first group key that fired.
        Its record is stored there, so the worker that owns the partition restores it."""
        keys = detection.labels.get("keys")
        if keys:
            # The first key whose signals this worker owns (after a rebalance the campaign's
            # first group may have gone to another worker); the first key otherwise.
            homes = [key_partition(key, self._signal_partitions) for key in keys.split(",")]
            return next((p for p in homes if p in self._owned), homes[0])
        return partition_of(detection.subject.encode(), self.settings.partitions)

    def _home_of(self, uid: str, home: int) -> int:
        """A record's partition; a record without a known one is where its key falls."""
        if 0 <= home < self.settings.partitions:
            return home
        return partition_of(uid.encode(), self.settings.partitions)

    async def _hand_over(self) -> None:
        await self.checkpoint()
        await self.app.producer.flush()

    def forget(self, lost: set[int]) -> None:
        """Let go of the state of partitions another worker owns now (it restores them from
        the tables): the accounts whose events they carry, the open finding records homed
        there, and the coordination groups of the keys whose signals they carry. Kept, such
        state would go stale (the account's events go elsewhere) and the findings would be
        closed here while their new owner keeps them open."""
        if not lost:
            return
        n = self.settings.partitions
        known = self.engine.accounts.accounts
        accounts = [a for a in known if partition_of(a.encode(), n) in lost]
        for account in accounts:
            self.engine.drop_account(account)
        self._accounts_out.drop(lost)  # their new owner writes them from here on
        records = self.policy.records
        uids = [uid for uid, r in records.items() if self._home_of(uid, r.home) in lost]
        for uid in uids:
            del records[uid]
        # Nothing more is written to their partitions from here (a batch handled after the
        # revocation's checkpoint made them dirty); closes still to go out are the new
        # owner's, which reads them from their closing records.
        dirty = self.policy.dirty
        for uid in [u for u, home in dirty.items() if self._home_of(u, home) in lost]:
            del dirty[uid]
        handed = {uid for uid, home in self._closing.items() if home in lost}
        for uid in handed:
            del self._closing[uid]
        self._unsent = [
            f for f in self._unsent
            if not (f["finding_info"]["uid"] in handed and f.get("activity_id") == ACTIVITY_CLOSE)
        ]  # fmt: skip
        groups = campaigns = 0
        if self.engine.coordination is not None:
            signals = self._signal_partitions
            groups, campaigns = self.engine.coordination.forget(
                lambda key: key_partition(key, signals) in lost
            )
        log.info(
            "partitions %s went to another worker: let go of %d accounts, %d open findings, "
            "%d coordination groups and %d campaigns",
            sorted(lost), len(accounts), len(uids), groups, campaigns,
        )  # fmt: skip

    def owned_partitions(self) -> set[int]:
        """The partitions of the consumed topics assigned to this worker now."""
        return self._partitions_of(self.app.consumer.assignment())

    def _partitions_of(self, assignment: Any) -> set[int]:
        return {tp.partition for tp in assignment if tp.topic in self._consumed}

    def restore_open_findings(self) -> int:
        """Import every open finding record of an owned partition that the policy does not
        hold yet (an emptied record is a closed finding); queue the closes of closing
        records (a close that may not have gone out before a crash) for the next publish.
        Records of partitions this worker does not own are left to their owner: a finding
        another worker keeps open must not be closed here. Return how many open findings
        were imported."""
        records = self.policy.records
        closes = len(self._closing)
        owned = self.owned_partitions()
        closing: dict[str, Closing] = {}

        def load(key: bytes, value: bytes) -> bool:
            uid = key.decode()
            if uid in records or uid in self._closing:
                return False
            got = read_record(value)
            if got is None or self._home_of(uid, got.home) not in owned:
                return False
            if isinstance(got, Closing):
                closing[uid] = got
                return False
            records[uid] = got
            return True

        n = self._import_table(self.finding_table, load, "finding")
        for uid, got in closing.items():  # an open record of the same uid wins (reopened)
            home = self._home_of(uid, got.home)
            if uid in records:
                if self._home_of(uid, records[uid].home) != home:
                    self._put_finding(uid.encode(), b"", home)
                continue
            self._closing[uid] = home
            self._unsent.append(got.close)
        if len(self._closing) > closes:
            log.info(
                "%d findings were closed but their close may not have been published; "
                "sending it again", len(self._closing) - closes,
            )  # fmt: skip
        return n

    @staticmethod
    def _import_table(table: Any, load: Any, what: str) -> int:
        """Feed every non-empty (key, value) record of ``table`` to ``load``; return how many
        it took (``load`` returns False for one it leaves). An emptied record (a tombstone)
        is skipped; a malformed one is logged and skipped."""
        n = 0
        for key, value in list(table.items()):
            if not (key and value):
                continue
            try:
                taken = load(bytes(key), bytes(value))
            except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
                log.warning("skipped a %s record %r: %s", what, key, exc)
                continue
            n += taken is not False
        return n

    def close_watermark(self, now: float) -> float:
        """Event time up to which findings may close: the events' watermark, held back to
        the event time read from the signal topic while other workers' signals wait there.

        Signals of this worker's own partitions are observed as they are made, never
        behind; a backlog on the topic is what the watermark must not run past.
        """
        watermark = self.watermark.value(now)
        if self._local_signals and self._signals_waiting():
            watermark = min(watermark, self.signal_watermark.value(now))
        return watermark

    def _signals_waiting(self) -> bool:
        """Whether a signal partition assigned here holds messages not yet handled and
        committed."""
        return self._uncommitted({self._topic_names["signals"]}) > 0

    async def checkpoint(self) -> None:
        """Write changed account state and finding records; publish closes of quiet findings.

        Closes come first: a closed finding's record becomes a closing record (the close
        itself) in the same checkpoint, so a later detection starts a new lifecycle instead
        of reviving the stale record, and a worker that crashes before the close is out
        publishes it after its restart. The record is emptied once the close is on the
        broker. Records are written before the publish: a batch handled while it waits must
        not load a closed finding's old record back. Findings whose publish failed go out
        first at the next publish; a checkpoint gives up on them after ``UNSENT_TRIES``
        failures in a row (their closing records stay, for a restarted worker to retry).
        """
        try:
            async with self._publishing:
                await self._checkpoint()
        finally:
            # Outside the lock: batches go on while the broker takes the account states.
            await self._flush_accounts()

    async def _flush_accounts(self) -> None:
        if self._accounts_out.pending:
            # The aiokafka producer under Faust's: batches are its API, not Faust's.
            producer = cast(Any, self.app.producer)._ensure_producer()
            await self._accounts_out.flush(producer)

    async def _checkpoint(self) -> None:
        self.stage.checkpoint(self._accounts_out.put)
        watermark = self.close_watermark(time.monotonic())
        out = BatchOutput()
        if watermark and self.engine.coordination is not None:
            # Parts due by the stream's event time go out even when no signal arrives to
            # sweep them (a campaign's traffic, or all traffic, has stopped).
            self.pipeline.apply_detections(self.engine.coordination.due(watermark), out)
        # Closes join the findings held back at once: the policy has let go of them, so they
        # must go out with the next publish even if a table write below fails.
        if watermark:
            self._unsent.extend(self.policy.close_quiet(watermark))
        closing = {
            f["finding_info"]["uid"]: f
            for f in self._unsent
            if f.get("activity_id") == ACTIVITY_CLOSE
        }
        dirty = self.policy.dirty
        for uid, home in list(dirty.items()):
            value = self.policy.export_record(uid)
            home = self._home_of(uid, home)
            if value is None:
                close = closing.get(uid)
                value = b"" if close is None else closing_record(close, home)
                if close is not None:
                    self._closing[uid] = home
            self._put_finding(uid.encode(), value, home)
            del dirty[uid]  # written (a failed write leaves the rest for the next checkpoint)
        if self.engine.coordination is not None:
            now = time.monotonic()
            if now - self._groups_saved >= self.settings.group_checkpoint_seconds:
                self._groups_saved = now
                for key, value in self.engine.coordination.export_groups():
                    self._put_group(key, value)
        if out.findings or self._unsent:
            try:
                await self.publish(out)
            except BaseException:
                self._keep_unsent(out.findings)
                raise
        self._save_links()  # after the parts that list their members are out

    def _keep_unsent(self, findings: list[dict[str, Any]]) -> None:
        """Hold a failed checkpoint's findings for the next publish; give up, loudly, after
        ``UNSENT_TRIES`` failures in a row (a finding the broker always refuses must not
        grow the list for ever). A close given up on keeps its closing record: a restarted
        worker, or the next recovery of its partition, offers it again."""
        self._unsent_tries += 1
        findings = self._unsent + findings
        if self._unsent_tries < UNSENT_TRIES:
            self._unsent = findings
            return
        uids = sorted({f["finding_info"]["uid"] for f in findings})
        log.error(
            "dropping %d findings the broker refused at %d checkpoints in a row: %s",
            len(findings), self._unsent_tries, ", ".join(uids[:10]),
        )  # fmt: skip
        for uid in uids:
            self._closing.pop(uid, None)
        self._unsent, self._unsent_tries = [], 0

    def _check_partitions(self) -> None:
        """Send signals to the partitions the signal topic really has; warn, once, when the
        events topic's partitions differ from the tables'.

        Signals are sent to explicit partitions, so every worker must use the topic's own
        partition count; one created earlier with another ``ABUSE_PARTITIONS`` still works.
        """
        name = self._topic_names["signals"]
        try:
            actual = self.app.consumer.topic_partitions(name)
        except Exception:  # metadata not there yet: keep the configured count
            actual = None
        if actual and actual != self._signal_partitions:
            log.warning(
                "topic %s has %d partitions, not %d (ABUSE_PARTITIONS); using %d",
                name, actual, self.settings.partitions, actual,
            )  # fmt: skip
            self._signal_partitions = actual
        events = self.settings.events_topic
        with contextlib.suppress(Exception):  # metadata not there yet: checked next time
            actual = self.app.consumer.topic_partitions(events)
            if actual and actual != self.settings.partitions and not self._warned_partitions:
                self._warned_partitions = True
                log.warning(
                    "topic %s has %d partitions, not %d (ABUSE_PARTITIONS): the tables do "
                    "not follow the events' partitions, so with several workers an "
                    "account's state and findings may be restored by another worker than "
                    "its events'; set ABUSE_PARTITIONS=%d",
                    events, actual, self.settings.partitions, actual,
                )  # fmt: skip

    def report_state(self) -> None:
        """Refresh lag, state-size and suppression metrics; report a stall."""
        self._update_lag()
        self._watch_stall(self._uncommitted(), time.monotonic())
        groups = self.engine.coordination.groups_tracked() if self.engine.coordination else 0
        campaigns = sum(
            1 for r in self.policy.records.values() if r.detector != "account-extraction"
        )
        self.metrics.set_state_sizes(self.engine.accounts_tracked(), groups, campaigns)
        for (detector, kind), count in self.policy.stats.suppressed_by.items():
            seen = self._suppressed_seen.get((detector, kind), 0)
            if count > seen:
                self.metrics.suppressed.labels(detector=detector, reason=kind).inc(count - seen)
                self._suppressed_seen[(detector, kind)] = count

    def _watch_stall(self, waiting: int, now: float) -> None:
        """Log once, with every task's stack, when messages wait and no batch finishes.

        A worker that stops without an error (a send or a commit that never completes) is
        otherwise silent: the log says where each task waits, and the ``worker_stalls``
        counter tells the dashboards. Stacks carry code locations only, never values.
        """
        idle = now - self._progress
        if waiting > 0 and idle >= self.settings.stall_seconds:
            if not self._stalled:
                self._stalled = True
                self.metrics.stalls.inc()
                log.error(
                    "worker stalled: no batch finished for %.0f s while %d messages wait; %s\n"
                    "tasks:\n%s",
                    idle, waiting, self._consumer_state(), task_stacks(),
                )  # fmt: skip
        elif self._stalled and idle < self.settings.stall_seconds:
            self._stalled = False
            log.warning("worker processing again after a stall")

    def _consumer_state(self) -> str:
        """Lines on the consumer's commit, flow, recovery and fetch state (stall report)."""
        app, consumer = self.app, self.app.consumer
        commit = getattr(consumer, "_commit_fut", None)
        line = (
            f"commit pending: {commit is not None and not commit.done()}, "
            f"flow active: {app.flow_control.is_active()}, "
            f"rebalancing: {getattr(app, 'rebalancing', '?')}, "
            f"in recovery: {getattr(app, 'in_recovery', '?')}"
        )
        try:  # Faust's and aiokafka's internals: what the fetcher is asked for, and queued
            mine = {tp for tp in consumer.assignment() if tp.topic in self._consumed}
            active = getattr(consumer, "_active_partitions", None)

            def tps(items: Any) -> list[str]:
                return sorted(f"{tp.topic}[{tp.partition}]" for tp in items if tp in mine)

            client = consumer._thread._ensure_consumer()  # type: ignore[attr-defined]
            queues = [
                f"{topic.get_topic_name() if hasattr(topic, 'get_topic_name') else topic}: "
                f"{topic.queue.qsize()} queued, "
                f"{len(getattr(topic.queue, '_pending_pressure_drop_callbacks', ()))} paused"
                for topic in app.topics
                if getattr(topic, "_queue", None) is not None
            ]
            read = consumer._read_offset  # type: ignore[attr-defined]
            committed = consumer._committed_offset  # type: ignore[attr-defined]
            acked = consumer._acked  # type: ignore[attr-defined]

            def acks(tp: Any) -> str:
                got = acked.get(tp) or []
                lo = committed.get(tp) or 0
                seen = set(got)
                holes = [
                    x for x in range(lo, min(read.get(tp) or lo, lo + 100_000)) if x not in seen
                ]
                return (
                    f"acked {len(got)} ({len(got) - len(seen)} twice), "
                    f"first unacked after the commit {holes[:5]}"
                )

            offsets = [
                f"{tp.topic}[{tp.partition}] read {read.get(tp)} high {consumer.highwater(tp)} "
                f"committed {committed.get(tp)} {acks(tp)}"
                for tp in sorted(mine)
            ]
            line += (
                f"\noffsets: {'; '.join(offsets)}"
                f"\nnot fetched by Faust: {tps(mine - set(active or ()))}, "
                f"paused: {tps(getattr(consumer, '_paused_partitions', ()))}, "
                f"buffered: {tps(getattr(consumer, '_buffered_partitions', ()))}, "
                f"paused in aiokafka: {tps(client.paused())}; queues: {queues}"
            )
        except Exception as exc:  # a report must never fail the timer
            line += f"\nfetch state unavailable: {exc!r}"
        return line

    def _uncommitted(self, topics: Container[str] | None = None) -> int:
        """Messages of the consumed topics (or of ``topics``) not committed yet, read or
        not (the high-water mark of the last fetch past the committed offset): work waiting."""
        consumer = self.app.consumer
        committed = consumer._committed_offset  # type: ignore[attr-defined]  # no public accessor
        topics = self._consumed if topics is None else topics
        waiting = 0
        for tp in consumer.assignment():
            if tp.topic in topics:
                high = consumer.highwater(tp)
                if high is not None:
                    waiting += max(0, int(high) - int(committed.get(tp) or 0))
        return waiting

    def _update_lag(self) -> None:
        """Lag per assigned partition: high-water mark minus the last read offset."""
        consumer = self.app.consumer
        lags = {}
        for tp in consumer.assignment():
            if tp.topic not in self._consumed:
                continue
            high = consumer.highwater(tp)
            read = consumer._read_offset.get(tp)  # type: ignore[attr-defined]  # no public accessor
            if high is not None:
                lags[(tp.topic, tp.partition)] = max(
                    0, int(high) - int(read if read is not None else -1) - 1
                )
        self.metrics.set_consumer_lag(lags)

    def ensure_topics(self) -> None:
        """Create the topics this worker reads and writes, if missing."""
        s = self.settings
        create_topics(
            ",".join(s.bootstrap_servers),
            [
                s.events_topic,
                s.dlq_topic,
                s.alerts_topic,
                s.feedback_topic,
                f"{s.app_id}-account-signals",
            ],
            s.partitions,
            s.replication_factor,
        )

    def run(self) -> int:
        """Run until stopped by a signal; return the exit code."""
        tune_gc(self.settings.gc_young_threshold)
        if self.settings.create_topics and self.settings.security_protocol == "PLAINTEXT":
            self.ensure_topics()
        server = None
        if self.settings.metrics_port:
            server = start_http_server(
                self.settings.metrics_port, self.metrics.registry, self.ready
            )
        worker = BoundedShutdownWorker(
            self.app,
            loglevel=self.settings.log_level,
            quiet=True,
            shutdown_timeout=self.settings.shutdown_timeout_seconds,
        )
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
        finally:
            worker.cancel_watchdog()
            if server is not None:
                server.stop()
        return 0
