"""Driving one load-benchmark measurement through Kafka, and the figures it yields.

`qm bench load` (bench_load.py) starts the parser processes; this module submits the orders
(a live burst, paced, or a transaction-released backlog), reads the outputs back and turns the
times and /proc CPU counters into a LoadResult.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.envelope import utcnow
from schemas.orders import OrderSubmitted
from schemas.topics import Topic
from services.common.codec import encode

OUTPUTS = (Topic.ORDERS_PARSED.value, Topic.ORDERS_REJECTED.value)
Mode = Literal["live", "backlog"]
MODES: tuple[Mode, ...] = ("live", "backlog")
# Large producer batches: the load generator should cost the shared cores as little as it can.
_PRODUCER = {"linger_ms": 5, "max_batch_size": 512 * 1024, "acks": "all"}


@dataclass(frozen=True)
class LoadResult:
    """One benchmark run (or the medians of several)."""

    parsers: int
    mode: Mode
    orders: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_ms: float = math.nan
    harness_cpu_ms: float = math.nan
    broker_cpu_ms: float = math.nan

    @property
    def rate(self) -> float:
        """Orders per second through the parser stage."""
        return self.orders / self.seconds if self.seconds else 0.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered) / 100)))
    return ordered[rank - 1]


def encode_orders(texts: Sequence[str], orders: int, run: str) -> list[tuple[bytes, bytes]]:
    """(key, value) of every order of a run, encoded as OrderSubmitted before timing starts."""
    now = utcnow()
    batch = []
    for i in range(orders):
        order_id = f"bench-{run}-{i:06d}"
        message = OrderSubmitted(
            message_id=f"msg-{order_id}",
            occurred_at=now,
            order_id=order_id,
            text=texts[i % len(texts)],
            submitted_by="bench",
        )
        batch.append((order_id.encode(), encode(message)))
    return batch


def median_result(runs: Sequence[LoadResult]) -> LoadResult:
    """The median of every figure over repeated runs of one configuration."""
    first = runs[0]

    def med(field: str) -> float:
        return float(statistics.median(getattr(r, field) for r in runs))

    return LoadResult(
        first.parsers,
        first.mode,
        first.orders,
        first.orders / statistics.median(r.rate for r in runs),
        med("p50_ms"),
        med("p99_ms"),
        med("max_ms"),
        med("cpu_ms"),
        med("harness_cpu_ms"),
        med("broker_cpu_ms"),
    )


def broker_pid(state_dir: Path) -> int | None:
    """The pid of the broker deploy/kafka/kafka.sh started, if that is the one in use."""
    try:
        return int((state_dir / "kafka" / "kafka.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds of processes so far (Linux /proc); NaN where unknown."""
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return math.nan
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def _output_reader(bootstrap: str) -> AIOKafkaConsumer:
    """A consumer of both output topics, positioned at their current end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    partitions = [
        TopicPartition(topic, p)
        for topic in OUTPUTS
        for p in sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
    ]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)
    return consumer


async def _submit_live(
    bootstrap: str, batch: list[tuple[bytes, bytes]], sent: dict[bytes, float], rate: float
) -> None:
    """Send every order pipelined (acks awaited at the end), noting each submit time in `sent`.

    With a rate (orders/s), orders go out on that schedule instead of in one burst.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, **_PRODUCER)
    await producer.start()
    try:
        start = time.perf_counter()
        for index, (key, value) in enumerate(batch):
            if rate and index % 10 == 0:
                await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
            sent[key] = time.perf_counter()
            await producer.send(Topic.ORDERS_SUBMITTED.value, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def _submit_backlog(bootstrap: str, batch: list[tuple[bytes, bytes]], run: str) -> float:
    """Write every order in one transaction and commit it; the time just before the commit."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"qm-bench-{run}", **_PRODUCER
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        for key, value in batch:
            await producer.send(Topic.ORDERS_SUBMITTED.value, value, key=key)
        await producer.flush()
        # read_committed parsers cannot see any of it before this point.
        released = time.perf_counter()
        await producer.commit_transaction()
        return released
    finally:
        await producer.stop()


async def _read_outputs(
    consumer: AIOKafkaConsumer, sent: dict[bytes, float], expected: int, limit_s: float
) -> tuple[list[float], float]:
    """Latencies (ms) of every order's first output, and when the last one was read.

    `sent` may still be filling: an order's submit time is noted before it is sent.
    """
    latencies: list[float] = []
    last = 0.0
    deadline = time.monotonic() + limit_s
    seen: set[bytes] = set()
    while len(seen) < expected and time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=200)
        now = time.perf_counter()
        for records in batch.values():
            for record in records:
                key = record.key or b""
                if key in sent and key not in seen:
                    seen.add(key)
                    latencies.append((now - sent[key]) * 1000)
                    last = now
    if len(seen) < expected:
        raise TimeoutError(f"only {len(seen)} of {expected} orders came out in {limit_s:.0f}s")
    return latencies, last


async def measure(
    bootstrap: str,
    batch: list[tuple[bytes, bytes]],
    mode: Mode,
    run: str,
    pids: Sequence[int],
    broker: int | None,
    limit_s: float,
    rate: float = 0.0,
) -> LoadResult:
    """One measurement: submit the batch in `mode`, read every output, compute the figures."""
    consumer = await _output_reader(bootstrap)
    try:
        brokers = [broker] if broker is not None else []
        cpu_before = (cpu_seconds(pids), time.process_time(), cpu_seconds(brokers))
        sent: dict[bytes, float] = {}
        if mode == "live":
            reader = asyncio.create_task(_read_outputs(consumer, sent, len(batch), limit_s))
            await _submit_live(bootstrap, batch, sent, rate)
            latencies, last = await reader
            started = min(sent.values())
        else:
            started = await _submit_backlog(bootstrap, batch, run)
            sent = dict.fromkeys((key for key, _ in batch), started)
            latencies, last = await _read_outputs(consumer, sent, len(batch), limit_s)
        cpu_after = (cpu_seconds(pids), time.process_time(), cpu_seconds(brokers))
        parser_ms, harness_ms, broker_ms = (
            (after - before) * 1000 / len(batch)
            for before, after in zip(cpu_before, cpu_after, strict=True)
        )
        return LoadResult(
            len(pids),
            mode,
            len(batch),
            last - started,
            percentile(latencies, 50),
            percentile(latencies, 99),
            max(latencies),
            parser_ms,
            harness_ms,
            broker_ms if brokers else math.nan,
        )
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return set(consumer.partitions_for_topic(topic) or ())
