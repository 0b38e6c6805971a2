"""Direct aiokafka use: idempotent topic creation and reading a topic from the start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from schemas.topics import Topic
from services.common.security import aiokafka_security_kwargs, kafka_security

log = logging.getLogger("qm")


class KafkaUnavailable(RuntimeError):
    """The broker cannot be reached."""


def all_topics() -> list[str]:
    """Every topic the system uses, dead-letter topics included."""
    return [t.value for t in Topic] + [t.dlq for t in Topic]


async def ensure_topics(bootstrap: str, partitions: int, topics: Iterable[str] = ()) -> list[str]:
    """Create missing topics (idempotent); return the names that were created."""
    wanted = list(topics) or all_topics()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=15_000,
        **aiokafka_security_kwargs(kafka_security()),
    )
    try:
        await admin.start()
    except KafkaConnectionError as err:
        raise KafkaUnavailable(
            f"cannot reach Kafka at {bootstrap}; start it with `make up` or set KAFKA_BOOTSTRAP"
        ) from err
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            ordered = {t.value for t in Topic if t.ordered}
            new = [NewTopic(name, 1 if name in ordered else partitions, 1) for name in missing]
            response = await admin.create_topics(new)
            # Errors come back per topic; "already exists" means another process won the race.
            failed = [
                (entry[0], entry[1])
                for entry in response.topic_errors
                if entry[1] not in (0, TopicAlreadyExistsError.errno)
            ]
            if failed:
                raise KafkaUnavailable(
                    f"Kafka refused to create topics {failed} (name, error code); check the "
                    "broker log and this principal's ACLs"
                )
        return missing
    finally:
        await admin.close()


@dataclass(frozen=True)
class Record:
    """One record read back from a topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


async def read_topics(
    bootstrap: str, topics: Iterable[str], timeout_s: float = 15.0
) -> list[Record]:
    """Read every committed record of the topics from the beginning up to their current end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **aiokafka_security_kwargs(kafka_security()),
    )
    try:
        await consumer.start()
    except KafkaConnectionError as err:
        raise KafkaUnavailable(
            f"cannot reach Kafka at {bootstrap}; start it with `make up` or set KAFKA_BOOTSTRAP"
        ) from err
    try:
        partitions = []
        for topic in topics:
            for number in sorted(await _partitions(consumer, topic)):
                partitions.append(TopicPartition(topic, number))
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        return await asyncio.wait_for(_drain(consumer, ends), timeout_s)
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    found = consumer.partitions_for_topic(topic)
    if found is None:
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic)
    return set(found or ())


async def _drain(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[Record]:
    records: list[Record] = []
    remaining = {tp for tp, end in ends.items() if end > 0}
    while remaining:
        batch = await consumer.getmany(timeout_ms=500)
        for messages in batch.values():
            for m in messages:
                records.append(
                    Record(
                        m.topic,
                        m.partition,
                        m.offset,
                        m.key,
                        m.value or b"",
                        tuple(m.headers or ()),
                        m.timestamp,
                    )
                )
        for tp in list(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
    records.sort(key=lambda r: (r.timestamp_ms, r.topic, r.partition, r.offset))
    return records


async def start_group_at_end(bootstrap: str, group: str, topic: str) -> None:
    """Commit a new consumer group at the current end of a topic: it will skip the backlog."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        **aiokafka_security_kwargs(kafka_security()),
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(await _partitions(consumer, topic))]
        consumer.assign(partitions)
        await consumer.commit(dict(await consumer.end_offsets(partitions)))
    finally:
        await consumer.stop()
