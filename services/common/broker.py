"""The FastStream Kafka broker every service uses, with the delivery contract in one place."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.message import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.middlewares import AckPolicy, BaseMiddleware
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel

from schemas.topics import CONTRACTS, Topic
from services.common.codec import DecodeError, decode, encode
from services.common.metrics import dead_letters_counter
from services.common.security import kafka_security
from services.common.settings import CommonSettings

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger("qm")


def make_broker(
    settings: CommonSettings, service: str, registry: CollectorRegistry | None = None
) -> KafkaBroker:
    """An idempotent, all-acks producer plus consumers that commit only after success; a
    service's messages and dead letters are counted on its app's `registry` (the CLI's, which
    has none, nowhere)."""
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"qm-{service}",
        enable_idempotence=True,
        security=kafka_security(settings),
        acks="all",
        middlewares=(KafkaPrometheusMiddleware(registry=registry, app_name=f"qm-{service}"),)
        if registry is not None
        else (),
        logger=logging.getLogger(f"qm.{service}"),
    )
    if registry is not None:
        _DEAD_LETTERS[broker] = dead_letters_counter(registry)
    return broker


# The dead-letter counter of each service broker, on that app's registry.
_DEAD_LETTERS: WeakKeyDictionary[KafkaBroker, Counter] = WeakKeyDictionary()


Handler = Callable[..., Awaitable[None]]
# Asked before a record is decoded: True when the service has seen it already (a replay).
Seen = Callable[[KafkaMessage], bool]


def contract_decoder(topic: Topic, max_bytes: int) -> Callable[[Any], Awaitable[BaseModel]]:
    """FastStream decoder: the record's value strictly decoded into the topic's contract, or
    DecodeError (which the router's edge turns into a dead letter)."""
    model = CONTRACTS[topic]

    async def decode_contract(msg: Any) -> BaseModel:
        return decode(model, msg.body, max_bytes)

    return decode_contract


def service_router(
    broker: KafkaBroker, service: str, seen: Mapping[Topic, Seen] | None = None
) -> KafkaRouter:
    """A router whose typed subscribers never see an unreadable record.

    Its middleware decodes each single record before the handler runs; a DecodeError is
    dead-lettered with the reason and the original bytes, and the record is acknowledged, so
    the handler takes its contract typed and nothing is lost. `seen` skips, per topic, records
    the service already handled or dead-lettered (a replay), before decoding them again.
    """
    skip = dict(seen or {})

    class Edge(BaseMiddleware):
        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            if isinstance(msg.raw_message, (tuple, list)):  # batches read their own records
                return await call_next(msg)
            topic = Topic(msg.raw_message.topic)
            if topic in skip and skip[topic](msg):
                return None
            try:
                await msg.decode()  # cached: the handler receives this very object
            except DecodeError as err:
                await dead_letter(broker, topic, msg, err.reason, err.detail, service)
                return None
            return await call_next(msg)

    return KafkaRouter(middlewares=(Edge,))


def publishes(router: KafkaRouter, *topics: Topic) -> None:
    """Declare what the router's handlers publish, with each topic's contract as its schema,
    so the AsyncAPI document lists the send operations (they are sent with `publish_all`)."""
    for topic in topics:
        router.publisher(topic.value, schema=CONTRACTS[topic], title=f"{topic.value}:publish")


def subscribe(
    router: KafkaRouter,
    topic: Topic,
    handler: Handler,
    *,
    group_id: str | None,
    ack_policy: AckPolicy = AckPolicy.NACK_ON_ERROR,
    batch_max: int | None = None,
    max_bytes: int | None = None,
) -> None:
    """Subscribe with the delivery contract: committed reads, commit only after success.

    Without a group the handler replays the topic from the start at every process start.
    With `max_bytes` the handler takes the topic's contract, typed, as its first argument
    (`contract_decoder`; on a `service_router`, unreadable records never reach it).
    """
    decoder = contract_decoder(topic, max_bytes) if max_bytes is not None else None
    if group_id is None:
        router.subscriber(
            topic.value,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            decoder=decoder,
        )(handler)
        return
    router.subscriber(
        topic.value,
        decoder=decoder,
        group_id=group_id,
        # With batch_max, a batch is handled, published and then committed as one.
        batch=batch_max is not None,
        max_records=batch_max,
        batch_timeout_ms=100,
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
    await publish_all(broker, [(topic, message, key)])


async def publish_all(broker: KafkaBroker, messages: list[tuple[Topic, BaseModel, str]]) -> None:
    """Publish many messages pipelined, then wait until the broker acknowledged every one."""
    pending = [
        await broker.publish(
            encode(message),
            topic.value,
            key=key.encode(),
            headers={"content-type": "application/json"},
            no_confirm=True,
        )
        for topic, message, key in messages
    ]
    # The in-memory test broker confirms synchronously and hands back no future.
    await asyncio.gather(*(p for p in pending if inspect.isawaitable(p)))


def records_of(msg: KafkaMessage) -> tuple[Any, ...]:
    """The consumer records behind a message: one, or all of a batch."""
    raw = msg.raw_message
    return tuple(raw) if isinstance(raw, (tuple, list)) else (raw,)


async def dead_letter(
    broker: KafkaBroker, source: Topic, msg: KafkaMessage, reason: str, detail: str, service: str
) -> None:
    """Dead-letter the record(s) behind a message."""
    for record in records_of(msg):
        await dead_letter_record(broker, source, record, reason, detail, service)


async def dead_letter_record(
    broker: KafkaBroker, source: Topic, record: Any, reason: str, detail: str, service: str
) -> None:
    """Send a consumed record's original bytes to `<topic>.dlq`, naming where it was read."""
    where = {"qm-partition": str(record.partition), "qm-offset": str(record.offset)}
    await dead_letter_value(
        broker, source, record.value or b"", record.key, reason, detail, service, where
    )


async def dead_letter_value(
    broker: KafkaBroker,
    source: Topic,
    value: bytes,
    key: bytes | None,
    reason: str,
    detail: str,
    service: str,
    where: dict[str, str] | None = None,
) -> None:
    """The one way to dead-letter: the bytes to `<topic>.dlq` with the reason, the source topic,
    the service (and where it was read, if it was) in headers; counted and logged."""
    headers = {
        "qm-reason": reason,
        "qm-detail": detail[:1000],
        "qm-source-topic": source.value,
        "qm-service": service,
        **(where or {}),
    }
    await broker.publish(value, source.dlq, key=key, headers=headers)
    counter = _DEAD_LETTERS.get(broker)
    if counter is not None:
        counter.labels(service=service, topic=source.value, reason=reason).inc()
    log.warning("dead-lettered a message from %s: %s (%s)", source.value, reason, detail[:200])


def dead_lettered_source(headers: Iterable[tuple[str, bytes]]) -> str | None:
    """topic/partition/offset of the record a dead letter was made from, read from its headers."""
    found = {key: value.decode(errors="replace") for key, value in headers}
    parts = (found.get(h) for h in ("qm-source-topic", "qm-partition", "qm-offset"))
    topic, partition, offset = parts
    if topic is None or partition is None or offset is None:
        return None
    return f"{topic}/{partition}/{offset}"


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
