"""Follow ``abuse-feedback`` from the start, without a consumer group: every worker needs every verdict."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from app.errors import EventError
from app.findings.feedback import apply_verdict, parse_verdict
from app.findings.policy import AlertPolicy
from app.metrics import Metrics
from app.settings import Settings

log = logging.getLogger(__name__)


def client_security(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments for the configured security protocol."""
    kwargs: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = ssl.create_default_context(cafile=settings.ssl_cafile)
    if settings.sasl_mechanism:
        kwargs["sasl_mechanism"] = settings.sasl_mechanism
        kwargs["sasl_plain_username"] = settings.sasl_username
        kwargs["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        )
    return kwargs


async def follow_feedback(
    settings: Settings,
    policy: AlertPolicy,
    metrics: Metrics,
    retry_s: float = 1.0,
    max_retry_s: float = 30.0,
    caught_up: asyncio.Event | None = None,
) -> None:
    """Apply every verdict on the feedback topic, oldest first, then keep following.

    ``caught_up`` is set once every verdict on the topic when following began is applied,
    so the worker can hold its first events until then. A broker that cannot be reached
    (at start-up, or gone before this consumer has bootstrapped) is retried with a
    doubling wait up to ``max_retry_s``, never a crash of the worker; verdicts resume after
    the last one applied, so none is applied twice.
    """
    from aiokafka.errors import KafkaError

    positions: dict[int, int] = {}  # partition -> next offset to apply
    delay = retry_s
    while True:
        try:
            await _follow(settings, policy, metrics, positions, caught_up or asyncio.Event())
        except (KafkaError, OSError) as exc:
            log.warning(
                "feedback topic %s unreachable (%s); retrying in %.0f s",
                settings.feedback_topic, exc, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(max_retry_s, delay * 2)


async def _follow(
    settings: Settings,
    policy: AlertPolicy,
    metrics: Metrics,
    positions: dict[int, int],
    caught_up: asyncio.Event,
) -> None:
    """Follow the feedback topic from ``positions`` (the beginning where none), updating
    them; set ``caught_up`` once the topic's end offsets at the start are reached."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        **client_security(settings),
    )
    try:
        await consumer.start()
        partitions: set[int] = set()
        while not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(settings.feedback_topic) or set()
            if not partitions:
                await asyncio.sleep(1.0)
        tps = [TopicPartition(settings.feedback_topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        fresh = [tp for tp in tps if tp.partition not in positions]
        if fresh:  # one request for all: each seek_to_beginning waits for the fetcher
            await consumer.seek_to_beginning(*fresh)
        for tp in tps:
            if tp.partition in positions:
                consumer.seek(tp, positions[tp.partition])
        ends = await consumer.end_offsets(tps)
        while True:
            if not caught_up.is_set():
                reached = [await consumer.position(tp) >= end for tp, end in ends.items()]
                if all(reached):
                    caught_up.set()
            batches = await consumer.getmany(timeout_ms=200)
            for tp, records in batches.items():
                for record in records:
                    positions[tp.partition] = record.offset + 1
                    try:
                        verdict = parse_verdict(record.value or b"")
                    except EventError as exc:
                        log.warning("ignoring feedback at offset %d: %s", record.offset, exc)
                        metrics.dlq.labels(reason=f"feedback_{exc.reason}").inc()
                        continue
                    apply_verdict(verdict, policy)
                    log.info("applied %s verdict for %s", verdict.verdict, verdict.target)
    finally:
        await consumer.stop()
