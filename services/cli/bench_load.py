"""`qm bench load`: parser-stage throughput and latency on the real broker, replay backend.

The parsers run as processes with the LOAD-TEST replay backend (answers from labelled data), in a
fresh consumer group, so several processes share the partitions of orders.submitted.v1. Orders
are the eval corpora's texts, cycled, each with a unique order id. Latency runs from the submit
time stamped in the order to the parser's output (orders.parsed.v1 / orders.rejected.v1) being
read back; throughput is orders over the time from the first submit to the last output.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.table import Table

from schemas.envelope import utcnow
from schemas.orders import OrderSubmitted
from schemas.topics import Topic
from services.cli.context import console, fail, settings
from services.common.codec import encode
from services.common.kafka import KafkaUnavailable, ensure_topics, start_group_at_end

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = Path(os.environ.get("QM_EVAL_DIR", "/work/shared/eval"))
OUTPUTS = (Topic.ORDERS_PARSED.value, Topic.ORDERS_REJECTED.value)


@dataclass(frozen=True)
class LoadResult:
    """One benchmark run."""

    parsers: int
    orders: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        """Orders per second through the parser stage."""
        return self.orders / self.seconds if self.seconds else 0.0


def corpus_texts(corpus: Path) -> list[str]:
    """Order texts of every labelled record (.jsonl file or directory of them)."""
    files = sorted(corpus.glob("*.jsonl")) if corpus.is_dir() else [corpus]
    return [
        json.loads(line)["text"]
        for file in files
        for line in file.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _start_parsers(
    count: int, group: str, corpus: Path, logs: Path
) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "QM_PARSER_GROUP_ID": group,
        "QM_PARSER_METRICS_PORT": "0",
        "QM_SCENARIO": str(
            corpus / "scenario.yaml" if corpus.is_dir() else corpus.parent / "scenario.yaml"
        ),
        "QM_BENCH_REPLAY_CORPUS": str(corpus),
        "QM_LOG_LEVEL": "WARNING",
    }
    logs.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [sys.executable, "-m", "services.cli.bench_load"],
            cwd=REPO,
            env=env,
            stdout=(logs / f"parser-{group}-{i}.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        for i in range(count)
    ]


async def _wait_for_members(bootstrap: str, group: str, count: int, limit_s: float) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            described = await admin.describe_consumer_groups([group])
            groups = described[0].groups if hasattr(described[0], "groups") else []
            members = sum(len(g[5]) for g in groups if g[1] == group and g[2] == "Stable")
            if members >= count:
                return
            await asyncio.sleep(0.5)
        raise TimeoutError(f"{count} parser(s) did not join group {group} in {limit_s:.0f}s")
    finally:
        await admin.close()


async def _measure(
    bootstrap: str, texts: list[str], orders: int, run: str, limit_s: float
) -> LoadResult:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in OUTPUTS
            for p in sorted(
                consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
            )
        ]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        sent: dict[str, float] = {}
        prefix = f"bench-{run}-"
        started = time.perf_counter()
        for i in range(orders):
            order_id = f"{prefix}{i:06d}"
            message = OrderSubmitted(
                message_id=f"msg-{order_id}",
                occurred_at=utcnow(),
                order_id=order_id,
                text=texts[i % len(texts)],
                submitted_by="bench",
            )
            sent[order_id] = time.perf_counter()
            await producer.send(
                Topic.ORDERS_SUBMITTED.value, encode(message), key=order_id.encode()
            )
        await producer.flush()
        latencies: list[float] = []
        last = started
        deadline = time.monotonic() + limit_s
        seen: set[str] = set()
        while len(seen) < orders and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    key = (record.key or b"").decode()
                    if key in sent and key not in seen:
                        seen.add(key)
                        latencies.append((now - sent[key]) * 1000)
                        last = now
        if len(seen) < orders:
            raise TimeoutError(f"only {len(seen)} of {orders} orders came out in {limit_s:.0f}s")
        return LoadResult(
            0,
            orders,
            last - started,
            percentile(latencies, 50),
            percentile(latencies, 99),
            max(latencies),
        )
    finally:
        await producer.stop()
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return set(consumer.partitions_for_topic(topic) or ())


def run_once(parsers: int, orders: int, corpus: Path, timeout: float) -> LoadResult:
    """Start the parsers, measure one batch of orders, stop the parsers."""
    common = settings()
    run = uuid.uuid4().hex[:8]
    group = f"bench-parser-{run}"
    asyncio.run(ensure_topics(common.kafka_bootstrap, common.partitions))
    asyncio.run(start_group_at_end(common.kafka_bootstrap, group, Topic.ORDERS_SUBMITTED.value))
    procs = _start_parsers(parsers, group, corpus, common.state_dir / "bench")
    try:
        asyncio.run(_wait_for_members(common.kafka_bootstrap, group, parsers, 60))
        result = asyncio.run(
            _measure(common.kafka_bootstrap, corpus_texts(corpus), orders, run, timeout)
        )
        return LoadResult(
            parsers, result.orders, result.seconds, result.p50_ms, result.p99_ms, result.max_ms
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def load(
    orders: Annotated[int, typer.Option(help="Orders to push through.", min=1)] = 2000,
    parsers: Annotated[
        str, typer.Option(help="Parser processes; a list such as 1,2 compares.")
    ] = "1",
    corpus: Annotated[
        Path, typer.Option(help="Labelled corpus (.jsonl or directory).")
    ] = DEFAULT_CORPUS,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every output.")] = 300.0,
) -> None:
    """Parser-stage orders/s and submit→parsed latency p50/p99 with the replay backend."""
    try:
        counts = [int(p) for p in parsers.split(",") if p.strip()]
    except ValueError:
        fail(f"--parsers takes numbers such as 1 or 1,2, not {parsers!r}")
    if not counts or min(counts) < 1:
        fail("--parsers needs at least one process")
    if not corpus.exists():
        fail(f"corpus {corpus} not found; pass --corpus")
    results = []
    for count in counts:
        console.print(f"{count} parser(s), {orders} orders …")
        try:
            results.append(run_once(count, orders, corpus, timeout))
        except (KafkaUnavailable, TimeoutError) as err:
            fail(str(err))
    table = Table(title="parser stage, replay backend (LOAD TEST), real broker")
    for column in ("parsers", "orders", "seconds", "orders/s", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            str(r.parsers),
            str(r.orders),
            f"{r.seconds:.2f}",
            f"{r.rate:.0f}",
            f"{r.p50_ms:.0f}",
            f"{r.p99_ms:.0f}",
            f"{r.max_ms:.0f}",
        )
    console.print(table)


def _serve_replay_parser() -> None:
    """A parser process with the replay backend (until backends.py knows "replay")."""
    from prometheus_client import REGISTRY

    from services.common.logs import configure_logging
    from services.parser.app import build_app
    from services.parser.llm_replay import ReplayBackend
    from services.parser.settings import ParserSettings

    configure_logging("parser")
    parser_settings = ParserSettings()
    backend = ReplayBackend(os.environ["QM_BENCH_REPLAY_CORPUS"])
    logging.getLogger("qm.parser").warning("LOAD-TEST parser with the replay backend")
    app, _ = build_app(parser_settings, backend, REGISTRY)
    asyncio.run(app.run())


if __name__ == "__main__":
    _serve_replay_parser()
