"""Prometheus metrics of the worker in one typed container, and the /metrics, /healthz, /ready server."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
)
from prometheus_client.exposition import choose_encoder

from app import __version__

log = logging.getLogger(__name__)

PREFIX = "abuse_detector"
RESULTS = ("ok", "invalid")
# Known label values get a zero series at start-up, so dashboards and rate() see a
# counter from its first scrape, not only from its first increment. Other values still work.
KNOWN_DETECTORS = ("account-extraction", "hydra-cluster")
SEVERITIES = ("informational", "low", "medium", "high", "critical")  # OCSF severity names
ACTIVITIES = ("new", "update", "close")  # OCSF activity_id 1, 2, 3
SUPPRESSION_REASONS = ("account", "org", "fingerprint", "finding")  # suppression kinds
# Batches run from a few ms (idle) to seconds (a stalled broker); per-event costs are microseconds.
BATCH_SECONDS_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 500, 1000, 2000, 5000, 10_000, 50_000)
# Event age spans a healthy sub-second pipeline up to an hour of backlog.
AGE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


class Metrics:
    """Every metric the worker exports; built once per process, or once per test registry."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        version: str = __version__,
        detectors: Sequence[str] = KNOWN_DETECTORS,
    ) -> None:
        if registry is None:
            # A private registry (not the global one) so two containers never clash; it
            # still carries the process metrics the saturation panels use.
            registry = CollectorRegistry()
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                registry.register(collector)
        self.registry = registry
        r = registry
        self.build = Info(f"{PREFIX}_build", "Version of the running abuse-detector.", registry=r)
        self.build.info({"version": version})

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(f"{PREFIX}_{name}", doc, labels, registry=r)

        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(f"{PREFIX}_{name}", doc, labels, registry=r)

        def histogram(name: str, doc: str, buckets: tuple[float, ...], *labels: str) -> Histogram:
            return Histogram(f"{PREFIX}_{name}", doc, labels, buckets=buckets, registry=r)

        self.events_consumed = counter("events_consumed", "Messages read from the events topic.")
        self.events_processed = counter(
            "events_processed", "Events processed, by result.", "result"
        )
        for result in RESULTS:
            self.events_processed.labels(result=result)
        self.dlq = counter(
            "dlq_events", "Events sent to the dead-letter topic, by reason.", "reason"
        )
        self.errors = counter(
            "errors", "Unexpected errors caught by the worker, by stage.", "stage"
        )
        self.batch_duration = histogram(
            "batch_duration_seconds", "Time to process one batch.", BATCH_SECONDS_BUCKETS
        )
        self.batch_size = histogram("batch_size_events", "Events per batch.", BATCH_SIZE_BUCKETS)
        self.event_age = histogram(
            "event_age_seconds", "Wall-clock time minus event time when processed.", AGE_BUCKETS
        )
        self.last_event_ts = gauge(
            "last_event_timestamp_seconds", "Event time of the newest processed event."
        )
        self.last_processed_ts = gauge(
            "last_processed_timestamp_seconds", "Wall-clock time of the last processed batch."
        )
        self.findings = counter(
            "findings_published", "Findings published.", "detector", "severity", "activity"
        )
        self.suppressed = counter(
            "findings_suppressed", "Findings withheld by the alert policy.", "detector", "reason"
        )
        self.scores = histogram(
            "detection_score", "Risk scores (0..1) by detector.", SCORE_BUCKETS, "detector"
        )
        self.accounts = gauge("accounts_tracked", "Accounts held in state.")
        self.groups = gauge("groups_tracked", "Fingerprint groups held in state.")
        self.campaigns = gauge("campaigns_open", "Campaign findings currently open.")
        self.consumer_lag = gauge(
            "consumer_lag_messages", "Messages behind the partition end.", "topic", "partition"
        )
        self.assigned_partitions = gauge(
            "assigned_partitions", "Partitions assigned to this worker."
        )
        self.ready = gauge("ready", "1 when the worker reports ready, else 0.")
        self.stalls = counter(
            "worker_stalls", "Times the worker stopped finishing batches while messages waited."
        )
        for detector in detectors:
            self.scores.labels(detector=detector)
            for reason in SUPPRESSION_REASONS:
                self.suppressed.labels(detector=detector, reason=reason)
            for severity in SEVERITIES:
                for activity in ACTIVITIES:
                    self.findings.labels(detector=detector, severity=severity, activity=activity)
        self._lag_keys: set[tuple[str, str]] = set()
        self._newest_event_ts = 0.0

    def observe_batch(self, seconds: float, n: int, now: float | None = None) -> None:
        """Record one processed batch of ``n`` events that took ``seconds``."""
        self.batch_duration.observe(max(0.0, seconds))
        self.batch_size.observe(n)
        self.last_processed_ts.set(time.time() if now is None else now)

    def observe_event(self, event_ts: float, now: float | None = None) -> None:
        """Record the age of one processed event and advance the newest event time."""
        self.event_age.observe(max(0.0, (time.time() if now is None else now) - event_ts))
        if event_ts > self._newest_event_ts:
            self._newest_event_ts = event_ts
            self.last_event_ts.set(event_ts)

    def observe_events(self, event_ts: Sequence[float], now: float) -> None:
        """Record the ages of a batch of processed events, as :meth:`observe_event` would
        one by one, with one update per histogram bucket instead of one per event.

        prometheus-client has no bulk observe, and one observe per event (a bucket search
        and a lock per call) cost a few percent of a worker: the bucket counts are found
        here and added to the histogram's own counters. A histogram without those
        counters (another client version) is observed event by event.
        """
        if not event_ts:
            return
        hist = self.event_age
        buckets = getattr(hist, "_buckets", None)
        bounds = getattr(hist, "_upper_bounds", None)
        total = getattr(hist, "_sum", None)
        if buckets is None or bounds is None or total is None or len(buckets) != len(bounds):
            for ts in event_ts:
                self.observe_event(ts, now)
            return
        counts = [0] * len(bounds)
        ages = 0.0
        for ts in event_ts:
            age = now - ts
            if age < 0.0:
                age = 0.0  # clock skew: an event from the future counts as age 0
            ages += age
            counts[bisect_left(bounds, age)] += 1  # the first bucket with age <= bound
        for bucket, n in zip(buckets, counts, strict=True):
            if n:
                bucket.inc(n)
        total.inc(ages)
        newest = max(event_ts)
        if newest > self._newest_event_ts:
            self._newest_event_ts = newest
            self.last_event_ts.set(newest)

    def record_finding(
        self, detector: str, severity: str, activity: str, score: float | None = None
    ) -> None:
        """Count one published finding and, if given, its score."""
        self.findings.labels(detector=detector, severity=severity, activity=activity).inc()
        if score is not None:
            self.scores.labels(detector=detector).observe(score)

    def set_state_sizes(self, accounts: int, groups: int, campaigns: int | None = None) -> None:
        """Set the gauges of how much state this worker holds."""
        self.accounts.set(accounts)
        self.groups.set(groups)
        if campaigns is not None:
            self.campaigns.set(campaigns)

    def set_consumer_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """Replace the lag of every assigned partition; partitions no longer assigned disappear."""
        keys = {(topic, str(partition)) for topic, partition in lags}
        for topic, partition in self._lag_keys - keys:
            with contextlib.suppress(KeyError):
                self.consumer_lag.remove(topic, partition)
        for (topic, part), lag in lags.items():
            self.consumer_lag.labels(topic=topic, partition=str(part)).set(max(0, lag))
        self._lag_keys = keys
        self.assigned_partitions.set(len(keys))


class MetricsServer:
    """A small threaded HTTP server for /metrics, /healthz and /ready."""

    def __init__(self, httpd: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self.httpd = httpd
        self.thread = thread

    @property
    def port(self) -> int:
        """The port actually bound (useful when asked for port 0)."""
        return int(self.httpd.server_address[1])

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def _handler(
    registry: CollectorRegistry, ready: Callable[[], bool]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._send(200, encoder(registry), content_type)
            elif path == "/healthz":
                self._send(200, b"ok\n")
            elif path == "/ready":
                try:
                    ok = bool(ready())
                except Exception:  # a failing probe means not ready, never a crash
                    log.exception("readiness check failed")
                    ok = False
                self._send(200 if ok else 503, b"ready\n" if ok else b"not ready\n")
            else:
                self._send(404, b"not found\n")

        def _send(
            self, code: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
        ) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
            log.debug("metrics http: " + format, *args)

    return Handler


def start_http_server(
    port: int,
    registry: CollectorRegistry,
    ready: Callable[[], bool] | None = None,
    addr: str = "0.0.0.0",
) -> MetricsServer:
    """Serve /metrics, /healthz and /ready (``ready()`` True gives 200, else 503) in a thread."""
    httpd = ThreadingHTTPServer((addr, port), _handler(registry, ready or (lambda: True)))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    log.info("metrics on http://%s:%d/metrics", addr, httpd.server_address[1])
    return MetricsServer(httpd, thread)
