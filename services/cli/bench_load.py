"""`qm bench load`: parser-stage throughput and latency on the real broker, replay backend.

The parsers run as processes with the LOAD-TEST replay backend (answers from labelled data), in a
fresh consumer group, so several processes share the partitions of orders.submitted.v1. Orders
are the eval corpora's texts, cycled, each with a unique order id, all built and encoded before
any clock starts. Each parser count is measured in two modes, after its group is stable:

- `live`: the orders are submitted in one pipelined burst while the parsers run. Throughput is
  orders over the time from the first submit to the last output (orders.parsed.v1 /
  orders.rejected.v1) read back; latency runs from an order's submit to its output being read.
  The load generator and the reader share the machine's cores with the parsers and the broker.
  `--rate R` paces the submissions at R orders/s instead: the latency is then that of a steady
  load, not of a burst waiting in the queue.
- `backlog`: the orders are written in one Kafka transaction, which the parsers (read_committed)
  cannot see until it commits: the whole backlog is released at once, so the parser stage is
  measured alone. Throughput is orders over the time from just before the commit to the last
  output; latency runs from that moment to each output (time spent waiting in the backlog).

`CPU ms/order` is the CPU time over the measurement, per order (Linux /proc), of all parser
processes, of this load generator and reader, and of the broker when deploy/kafka/kafka.sh
started it (its pid file under the state dir): it shows where the cores go and depends less on
what else the machine runs. With `--repeat`, every figure is the median of the runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

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


async def _measure(
    bootstrap: str,
    batch: list[tuple[bytes, bytes]],
    mode: Mode,
    run: str,
    pids: Sequence[int],
    broker: int | None,
    limit_s: float,
    rate: float = 0.0,
) -> LoadResult:
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


def run_once(
    parsers: int, mode: Mode, orders: int, corpus: Path, timeout: float, rate: float = 0.0
) -> LoadResult:
    """Start the parsers, measure one batch of orders in one mode, stop the parsers."""
    common = settings()
    run = uuid.uuid4().hex[:8]
    group = f"bench-parser-{run}"
    batch = encode_orders(corpus_texts(corpus), orders, run)
    asyncio.run(ensure_topics(common.kafka_bootstrap, common.partitions))
    asyncio.run(start_group_at_end(common.kafka_bootstrap, group, Topic.ORDERS_SUBMITTED.value))
    procs = _start_parsers(parsers, group, corpus, common.state_dir / "bench")
    try:
        asyncio.run(_wait_for_members(common.kafka_bootstrap, group, parsers, 60))
        pids = [proc.pid for proc in procs]
        broker = broker_pid(common.state_dir)
        return asyncio.run(
            _measure(common.kafka_bootstrap, batch, mode, run, pids, broker, timeout, rate)
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _table(results: Sequence[LoadResult], repeat: int) -> Table:
    medians = f", medians of {repeat} runs" if repeat > 1 else ""
    table = Table(title=f"parser stage, replay backend (LOAD TEST), real broker{medians}")
    columns = ("parsers", "mode", "orders", "seconds", "orders/s", "p50 ms", "p99 ms", "max ms")
    for column in (*columns, "CPU ms/order: parsers", "load gen", "broker"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            str(r.parsers),
            r.mode,
            str(r.orders),
            f"{r.seconds:.2f}",
            f"{r.rate:.0f}",
            f"{r.p50_ms:.0f}",
            f"{r.p99_ms:.0f}",
            f"{r.max_ms:.0f}",
            f"{r.cpu_ms:.2f}",
            f"{r.harness_cpu_ms:.2f}",
            f"{r.broker_cpu_ms:.2f}",
        )
    return table


def load(
    orders: Annotated[int, typer.Option(help="Orders to push through.", min=1)] = 2000,
    parsers: Annotated[
        str, typer.Option(help="Parser processes; a list such as 1,2 compares.")
    ] = "1",
    mode: Annotated[
        str, typer.Option(help="live, backlog, or both (see `qm bench load --help`).")
    ] = "both",
    repeat: Annotated[int, typer.Option(help="Runs per configuration (medians).", min=1)] = 1,
    rate: Annotated[
        float, typer.Option(help="live: submit at this many orders/s (0: one burst).", min=0)
    ] = 0.0,
    corpus: Annotated[
        Path, typer.Option(help="Labelled corpus (.jsonl or directory).")
    ] = DEFAULT_CORPUS,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every output.")] = 300.0,
) -> None:
    """Parser-stage orders/s and latency p50/p99 with the replay backend, live and from a backlog.

    live: orders submitted in a burst while the parsers run; orders/s is orders over first
    submit -> last output. backlog: orders released at once by one transaction commit, so the
    parsers alone are measured; orders/s is orders over commit -> last output. --rate paces the
    live submissions, so latency shows a steady load instead of a burst's queue.
    """
    try:
        counts = [int(p) for p in parsers.split(",") if p.strip()]
    except ValueError:
        fail(f"--parsers takes numbers such as 1 or 1,2, not {parsers!r}")
    if not counts or min(counts) < 1:
        fail("--parsers needs at least one process")
    if mode not in (*MODES, "both"):
        fail(f"--mode is live, backlog or both, not {mode!r}")
    if not corpus.exists():
        fail(f"corpus {corpus} not found; pass --corpus")
    modes = MODES if mode == "both" else tuple(m for m in MODES if m == mode)
    results = []
    for count in counts:
        for each in modes:
            runs = []
            for attempt in range(repeat):
                console.print(f"{count} parser(s), {each}, {orders} orders, run {attempt + 1} …")
                try:
                    runs.append(run_once(count, each, orders, corpus, timeout, rate))
                except (KafkaUnavailable, TimeoutError) as err:
                    fail(str(err))
            results.append(median_result(runs))
    console.print(_table(results, repeat))


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
