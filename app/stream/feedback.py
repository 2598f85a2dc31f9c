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


async def follow_feedback(settings: Settings, policy: AlertPolicy, metrics: Metrics) -> None:
    """Apply every verdict on the feedback topic, oldest first, then keep following."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        **client_security(settings),
    )
    await consumer.start()
    try:
        partitions: set[int] = set()
        while not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(settings.feedback_topic) or set()
            if not partitions:
                await asyncio.sleep(1.0)
        consumer.assign([TopicPartition(settings.feedback_topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
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
