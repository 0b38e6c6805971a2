"""Consumer-group lag per partition, read from the broker's committed offsets and log ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Gauge

from services.common.metrics import consumer_lag_gauge
from services.common.security import aiokafka_security_kwargs, kafka_security

log = logging.getLogger("qm")


# Broker errors, network errors and timeouts all mean "try again next round".
TRANSIENT = (KafkaError, OSError, asyncio.TimeoutError)


@dataclass(frozen=True)
class PartitionLag:
    """How far one group is behind on one partition."""

    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int


def compute_lag(
    committed: Mapping[tuple[str, int], int],
    starts: Mapping[tuple[str, int], int],
    ends: Mapping[tuple[str, int], int],
) -> list[PartitionLag]:
    """Lag per partition: end minus the committed offset (or the log start if none is committed)."""
    rows = []
    for key in sorted(ends):
        offset = committed.get(key)
        if offset is not None and offset < 0:
            offset = None  # -1: the group has no offset for this partition
        position = offset if offset is not None else starts.get(key, 0)
        rows.append(PartitionLag(key[0], key[1], offset, ends[key], max(ends[key] - position, 0)))
    return rows


def topic_partitions(described: Iterable[Mapping[str, object]]) -> dict[str, list[int]]:
    """Partition numbers per topic from admin `describe_topics`; unknown topics are left out."""
    found: dict[str, list[int]] = {}
    for topic in described:
        partitions = topic.get("partitions")
        if topic.get("error_code") or not isinstance(partitions, list):
            continue
        found[str(topic["topic"])] = sorted(int(p["partition"]) for p in partitions)
    return found


class LagReader:
    """One admin client and one group-less consumer, reused between reads."""

    def __init__(self, bootstrap: str, request_timeout_ms: int = 10_000) -> None:
        security = aiokafka_security_kwargs(kafka_security())
        self.admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=request_timeout_ms, **security
        )
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            request_timeout_ms=request_timeout_ms,
            **security,
        )

    async def start(self) -> None:
        """Connect both clients."""
        await self.admin.start()
        await self.consumer.start()

    async def close(self) -> None:
        """Disconnect both clients, whatever state they are in."""
        for close in (self.consumer.stop, self.admin.close):
            try:
                await close()
            except TRANSIENT as err:
                log.debug("closing a lag client failed: %s", err)

    async def partitions(self, topics: list[str]) -> dict[str, list[int]]:
        """Partition numbers of the topics that exist."""
        return topic_partitions(await self.admin.describe_topics(topics))

    async def group_lag(self, group_id: str, topics: list[str]) -> list[PartitionLag]:
        """Lag of one consumer group on every partition of the topics."""
        tps = [
            TopicPartition(t, p) for t, ps in (await self.partitions(topics)).items() for p in ps
        ]
        if not tps:
            return []
        offsets = await self.admin.list_consumer_group_offsets(group_id, partitions=tps)
        starts = await self.consumer.beginning_offsets(tps)
        ends = await self.consumer.end_offsets(tps)
        return compute_lag(
            {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()},
            {(tp.topic, tp.partition): offset for tp, offset in starts.items()},
            {(tp.topic, tp.partition): offset for tp, offset in ends.items()},
        )


def publish(gauge: Gauge, group_id: str, rows: Iterable[PartitionLag]) -> None:
    """Set the qm_consumer_lag gauge for each partition."""
    for row in rows:
        gauge.labels(group=group_id, topic=row.topic, partition=str(row.partition)).set(row.lag)


async def lag_loop(
    registry: CollectorRegistry,
    bootstrap: str,
    group_id: str,
    topics: list[str],
    interval_s: float = 5.0,
) -> None:
    """Publish the group's lag every interval until cancelled; retry after broker errors."""
    gauge = consumer_lag_gauge(registry)
    reader: LagReader | None = None
    try:
        while True:
            try:
                if reader is None:
                    reader = LagReader(bootstrap)
                    await reader.start()
                publish(gauge, group_id, await reader.group_lag(group_id, topics))
            except TRANSIENT as err:
                log.warning(
                    "consumer lag of %s unavailable, retrying in %.0fs: %r",
                    group_id,
                    interval_s,
                    err,
                )
                if reader is not None:
                    await reader.close()
                    reader = None
            await asyncio.sleep(interval_s)
    finally:
        if reader is not None:
            await reader.close()
