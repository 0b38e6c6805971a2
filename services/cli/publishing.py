"""Publishing from the CLI with a short-lived broker connection."""

from __future__ import annotations

from pydantic import BaseModel

from schemas.topics import Topic
from services.common.broker import make_broker, publish
from services.common.kafka import ensure_topics
from services.common.settings import CommonSettings


async def send(topic: Topic, message: BaseModel, key: str) -> None:
    """Publish one contract message and wait for the broker's acknowledgement."""
    settings = CommonSettings()
    await send_many(settings, topic, [(message, key)])


async def send_many(
    settings: CommonSettings, topic: Topic, messages: list[tuple[BaseModel, str]]
) -> None:
    """Publish several messages over one connection."""
    await ensure_topics(settings.kafka_bootstrap, settings.partitions)
    broker = make_broker(settings, "cli")
    await broker.start()
    try:
        for message, key in messages:
            await publish(broker, topic, message, key)
    finally:
        await broker.stop()
