"""The FastStream Kafka broker every service uses, with the delivery contract in one place."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.message import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.middlewares import AckPolicy
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from schemas.topics import Topic
from services.common.codec import DecodeError, decode, encode
from services.common.metrics import DEAD_LETTERS
from services.common.security import kafka_security
from services.common.settings import CommonSettings

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger("qm")


def make_broker(
    settings: CommonSettings, service: str, registry: CollectorRegistry | None = None
) -> KafkaBroker:
    """An idempotent, all-acks producer plus consumers that commit only after success."""
    middlewares = (
        (KafkaPrometheusMiddleware(registry=registry, app_name=f"qm-{service}"),)
        if registry is not None
        else ()
    )
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"qm-{service}",
        enable_idempotence=True,
        security=kafka_security(),
        acks="all",
        middlewares=middlewares,
        logger=logging.getLogger(f"qm.{service}"),
    )


Handler = Callable[[KafkaMessage], Awaitable[None]]


def subscribe(
    router: KafkaRouter,
    topic: Topic,
    handler: Handler,
    *,
    group_id: str | None,
    ack_policy: AckPolicy = AckPolicy.NACK_ON_ERROR,
) -> None:
    """Subscribe with the delivery contract: committed reads, commit only after success.

    Without a group the handler replays the topic from the start at every process start.
    """
    if group_id is None:
        router.subscriber(topic.value, auto_offset_reset="earliest", ack_policy=AckPolicy.MANUAL)(
            handler
        )
        return
    router.subscriber(
        topic.value,
        group_id=group_id,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        # NACK_ON_ERROR: a handler that raises is re-delivered (seek back), never committed.
        ack_policy=ack_policy,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        max_poll_interval_ms=600_000,
    )(handler)


async def publish(broker: KafkaBroker, topic: Topic, message: BaseModel, key: str) -> None:
    """Publish a contract message keyed by its business key and wait for the broker's ack."""
    await broker.publish(
        encode(message), topic.value, key=key.encode(), headers={"content-type": "application/json"}
    )


async def dead_letter(
    broker: KafkaBroker, source: Topic, msg: KafkaMessage, reason: str, detail: str, service: str
) -> None:
    """Send the original bytes to `<topic>.dlq` with the reason in headers; count it."""
    record = msg.raw_message
    headers = {
        "qm-reason": reason,
        "qm-detail": detail[:1000],
        "qm-source-topic": source.value,
        "qm-service": service,
    }
    if not isinstance(record, tuple):
        headers["qm-partition"] = str(record.partition)
        headers["qm-offset"] = str(record.offset)
    original_key = None if isinstance(record, tuple) else record.key
    await broker.publish(msg.body, source.dlq, key=original_key, headers=headers)
    DEAD_LETTERS.labels(service=service, topic=source.value, reason=reason).inc()
    log.warning("dead-lettered a message from %s: %s (%s)", source.value, reason, detail[:200])


async def decode_or_dead_letter(
    broker: KafkaBroker,
    source: Topic,
    model: type[M],
    msg: KafkaMessage,
    settings: CommonSettings,
    service: str,
) -> M | None:
    """Decode a message into its contract, or dead-letter it and return None."""
    try:
        return decode(model, msg.body, settings.max_message_bytes)
    except DecodeError as err:
        await dead_letter(broker, source, msg, err.reason, err.detail, service)
        return None
