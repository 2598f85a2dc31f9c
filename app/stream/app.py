"""Build the Faust app and its topics from the settings."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from time import monotonic
from typing import Any

import faust
from faust.sensors import Monitor

from app.settings import Settings
from app.stream.transport import BatchHandler
from app.stream.transport import register as register_transport

RAW: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}


@dataclass(slots=True)
class Topics:
    """The four topics of the settings plus the internal re-keyed signal topic."""

    events: faust.TopicT
    dlq: faust.TopicT
    alerts: faust.TopicT
    feedback: faust.TopicT
    signals: faust.TopicT


def broker_credentials(settings: Settings) -> Any:
    """Faust credentials for SASL and/or TLS; None for plaintext."""
    context = None
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=settings.ssl_cafile)
    if settings.sasl_mechanism:
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        if settings.sasl_mechanism == "PLAIN":
            return faust.SASLCredentials(
                username=settings.sasl_username, password=password, ssl_context=context
            )
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=password,
            ssl_context=context,
            mechanism=settings.sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


class StreamApp(faust.App):
    """Faust's app plus the handlers of the topics its consumer delivers in batches.

    ``batch_handlers`` maps a topic name to the coroutine function that takes each fetch's
    records of that topic (see :mod:`app.stream.transport`); the topic must also be
    subscribed (``app.topics.add``). Other topics (changelogs) take Faust's own path.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_handlers: dict[str, BatchHandler] = {}


class LeanMonitor(Monitor):
    """Faust's monitor without its per-message and per-event statistics.

    Faust calls the monitor for every message and stream event (counters by topic and by
    stream, a timing dict per event, a runtime deque); nothing here reads them, the
    worker's own Prometheus metrics count what operators watch, and they cost a few
    percent of a worker. What Faust itself reads is kept: when each partition's stream
    last took an event (its check for a stream that stopped taking events), read offsets,
    commits, end offsets and send counters.
    """

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        self.tp_read_offsets[tp] = offset

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        self.stream_inbound_time[tp] = monotonic()

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None


def build_app(settings: Settings) -> tuple[StreamApp, Topics]:
    """Create the Faust app (not started) and declare its topics."""
    datadir = Path(settings.data_dir)
    datadir.mkdir(parents=True, exist_ok=True)
    app = StreamApp(
        settings.app_id,
        broker=[f"{register_transport()}://{server}" for server in settings.bootstrap_servers],
        broker_credentials=broker_credentials(settings),
        store=settings.store_url,
        datadir=str(datadir),
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        stream_buffer_maxsize=settings.stream_buffer_maxsize,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        consumer_auto_offset_reset="earliest",
        producer_linger_ms=5,
        producer_max_batch_size=1024 * 1024,
        producer_max_request_size=4 * 1024 * 1024,
        # The embedded broker refuses transactions; findings are idempotent by uid instead.
        processing_guarantee="at_least_once",
        worker_redirect_stdouts=False,
        key_serializer="raw",
        value_serializer="raw",
        monitor=LeanMonitor(),
        recovery_consistency_check=settings.recovery_consistency_check,
    )
    topics = Topics(
        events=app.topic(settings.events_topic, partitions=settings.partitions, **RAW),
        dlq=app.topic(settings.dlq_topic, partitions=settings.partitions, **RAW),
        alerts=app.topic(settings.alerts_topic, partitions=settings.partitions, **RAW),
        feedback=app.topic(settings.feedback_topic, partitions=settings.partitions, **RAW),
        signals=app.topic(
            f"{settings.app_id}-account-signals",
            partitions=settings.partitions,
            internal=True,
            **RAW,
        ),
    )
    return app, topics
