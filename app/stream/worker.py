"""The Faust worker: agents stay short — decode, call the core, send, count."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

import faust
import orjson

from app.broker import create_topics
from app.metrics import Metrics, start_http_server
from app.settings import Settings
from app.stream.app import Topics, build_app
from app.stream.pipeline import BatchOutput, Pipeline, Record

log = logging.getLogger(__name__)


class DetectorWorker:
    """One worker process: the Faust app, its agents, and the pipeline they call."""

    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.app, self.topics = build_app(settings)
        self.pipeline = Pipeline(max_event_bytes=settings.max_event_bytes)
        self._assigned = False
        self._register(self.app, self.topics)

    def ready(self) -> bool:
        """True once the worker has joined its group and owns partitions."""
        return self._assigned

    def _register(self, app: faust.App, topics: Topics) -> None:
        settings = self.settings

        @app.agent(topics.events, name="process-events")
        async def process_events(stream: faust.StreamT) -> None:
            """Decode, validate and detect on batches of api-events."""
            async for batch in stream.take_events(settings.batch_size, within=settings.batch_seconds):
                await self.handle_batch(batch)

        @app.timer(interval=5.0)
        async def report_state() -> None:
            """Refresh the state and lag gauges."""
            self._update_lag()

        @app.on_partitions_assigned.connect  # type: ignore[misc]
        async def on_assigned(app: faust.App, assigned: Any, **kwargs: Any) -> None:
            self._assigned = True
            self.metrics.ready.set(1)
            log.info("partitions assigned: %d", len(assigned))

    async def handle_batch(self, batch: list[Any]) -> BatchOutput:
        """Run one batch through the pipeline and publish what it produced."""
        started = time.perf_counter()
        records = [
            Record(e.message.key, e.message.value, e.message.topic, e.message.partition, e.message.offset)
            for e in batch
        ]
        self.metrics.events_consumed.inc(len(records))
        now = time.time()
        out = self.pipeline.handle(records, now)
        await self.publish(out)
        metrics = self.metrics
        metrics.events_processed.labels(result="ok").inc(out.valid)
        if out.dead_letters:
            metrics.events_processed.labels(result="invalid").inc(len(out.dead_letters))
            for reason, count in out.dlq_reasons.items():
                metrics.dlq.labels(reason=reason).inc(count)
        for ts in out.event_ts:
            metrics.observe_event(ts, now)
        metrics.observe_batch(time.perf_counter() - started, len(records))
        return out

    async def publish(self, out: BatchOutput) -> None:
        """Send dead letters, findings and signals; wait until the broker has them all.

        Offsets are committed only after this returns, so a crash re-delivers the batch
        (at least once); findings are idempotent by uid downstream.
        """
        topics = self.topics
        pending: list[Awaitable[Any]] = []
        for letter in out.dead_letters:
            pending.append(
                await topics.dlq.send(key=letter.key, value=letter.value, headers=letter.headers)
            )
        for finding in out.findings:
            info = finding["finding_info"]
            pending.append(await topics.alerts.send(key=info["uid"].encode(), value=orjson.dumps(finding)))
            self.metrics.record_finding(
                info["analytic"]["name"],
                str(finding.get("severity", "unknown")).lower(),
                {1: "new", 2: "update", 3: "close"}.get(int(finding.get("activity_id", 0)), "other"),
                finding.get("confidence_score", 0) / 100 if finding.get("confidence_score") is not None else None,
            )
        for key, payload in out.signals:
            pending.append(await topics.signals.send(key=key, value=payload))
        if pending:
            await asyncio.gather(*pending)

    def _update_lag(self) -> None:
        """Lag per assigned partition: high-water mark minus the last read offset."""
        consumer = self.app.consumer
        try:
            lags = {}
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                read = consumer._read_offset.get(tp)  # Faust keeps no public accessor
                if high is not None:
                    lags[(tp.topic, tp.partition)] = max(0, int(high) - int(read if read is not None else -1) - 1)
            self.metrics.set_consumer_lag(lags)
        except Exception:  # lag is best effort; never let it stop processing
            log.debug("could not compute consumer lag", exc_info=True)

    def ensure_topics(self) -> None:
        """Create the topics this worker reads and writes, if missing."""
        s = self.settings
        create_topics(
            ",".join(s.bootstrap_servers),
            [s.events_topic, s.dlq_topic, s.alerts_topic, s.feedback_topic, f"{s.app_id}-account-signals"],
            s.partitions,
            s.replication_factor,
        )

    def run(self) -> int:
        """Run until stopped by a signal; return the exit code."""
        if self.settings.create_topics and self.settings.security_protocol == "PLAINTEXT":
            self.ensure_topics()
        server = None
        if self.settings.metrics_port:
            server = start_http_server(self.settings.metrics_port, self.metrics.registry, self.ready)
        worker = faust.Worker(self.app, loglevel=self.settings.log_level, quiet=True)
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
        finally:
            if server is not None:
                server.stop()
        return 0
