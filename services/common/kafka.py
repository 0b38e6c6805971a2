"""Direct aiokafka use: idempotent topic creation, retention checks, reading topics back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code

from schemas.topics import Topic
from services.common.security import aiokafka_security_kwargs, kafka_security

log = logging.getLogger("qm")


class KafkaUnavailable(RuntimeError):
    """The broker cannot be reached."""


def all_topics() -> list[str]:
    """Every topic the system uses, dead-letter topics included."""
    return [t.value for t in Topic] + [t.dlq for t in Topic]


def topic_config(name: str) -> dict[str, str]:
    """The topic-level settings a topic is created with (dead-letter topics: broker defaults)."""
    return next((t.config for t in Topic if t.value == name), {})


def kept_forever_topics() -> list[str]:
    """The topics whose retention must stay unlimited: signed decisions, releases, the audit."""
    return [t.value for t in Topic if t.kept_forever]


@asynccontextmanager
async def _admin(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=15_000,
        **aiokafka_security_kwargs(kafka_security()),
    )
    try:
        await admin.start()
    except KafkaConnectionError as err:
        raise KafkaUnavailable(
            f"cannot reach Kafka at {bootstrap}; start it with `make up` or set KAFKA_BOOTSTRAP "
            "(over SASL_SSL also check QM_KAFKA_SSL_CAFILE names the broker's CA)"
        ) from err
    try:
        yield admin
    finally:
        await admin.close()


async def ensure_topics(bootstrap: str, partitions: int, topics: Iterable[str] = ()) -> list[str]:
    """Create missing topics (idempotent); return the names that were created.

    Topics that already exist are left as they are, whatever their settings: `retention_drift`
    reports a kept-forever topic whose retention is not unlimited (changing it is for the super
    user, whom the ACLs alone allow to alter those topics).
    """
    wanted = list(topics) or all_topics()
    async with _admin(bootstrap) as admin:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            ordered = {t.value for t in Topic if t.ordered}
            new = [
                NewTopic(
                    name,
                    1 if name in ordered else partitions,
                    1,
                    topic_configs=topic_config(name),
                )
                for name in missing
            ]
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


@dataclass(frozen=True)
class RetentionDrift:
    """A kept-forever topic whose retention settings are not the ones it must have."""

    topic: str
    found: dict[str, str]  # setting → value on the broker, for the settings that differ

    def warning(self, bootstrap: str) -> str:
        """What is wrong and what to run (as the super user: the ACLs deny everyone else)."""
        found = ", ".join(f"{k}={v}" for k, v in sorted(self.found.items()))
        wanted = ",".join(f"{k}={v}" for k, v in sorted(topic_config(self.topic).items()))
        return (
            f"topic {self.topic} already exists with {found}, so the broker will delete its "
            f"history; it was left unchanged. As the broker super user run: kafka-configs.sh "
            f"--bootstrap-server {bootstrap} --command-config <super-user.properties> --alter "
            f"--entity-type topics --entity-name {self.topic} --add-config {wanted}"
        )


def retention_drift(
    configs: Mapping[str, Mapping[str, str]], topics: Iterable[str] | None = None
) -> list[RetentionDrift]:
    """The kept-forever topics (present in `configs`) whose settings differ from topic_config."""
    drifts = []
    for topic in kept_forever_topics() if topics is None else topics:
        if topic not in configs:
            continue  # not created (yet): ensure_topics creates it with the right settings
        wanted = topic_config(topic)
        found = {k: configs[topic].get(k, "<unset>") for k, v in wanted.items()}
        differing = {k: v for k, v in found.items() if v != wanted[k]}
        if differing:
            drifts.append(RetentionDrift(topic, differing))
    return drifts


def config_values(responses: Iterable[Any]) -> dict[str, dict[str, str]]:
    """topic → {setting: value} from aiokafka DescribeConfigs responses; refusals raise."""
    out: dict[str, dict[str, str]] = {}
    for response in responses:
        for error_code, error_message, _type, name, entries, *_ in response.resources:
            if error_code:
                raise for_code(error_code)(f"{name}: {error_message or ''}".rstrip(": "))
            out[name] = {entry[0]: entry[1] for entry in entries}
    return out


async def describe_topic_configs(
    bootstrap: str, topics: Iterable[str]
) -> dict[str, dict[str, str]]:
    """Each existing topic's effective settings (needs DESCRIBE_CONFIGS on it)."""
    async with _admin(bootstrap) as admin:
        existing = set(await admin.list_topics())
        names = [t for t in topics if t in existing]
        if not names:
            return {}
        resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        return config_values(await admin.describe_configs(resources))


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
