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
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lab.cli.load_measure import (
    MODES,
    LoadResult,
    Mode,
    broker_pid,
    encode_orders,
    measure,
    median_result,
)
from lab.supervisor import Supervisor
from schemas.topics import Topic
from services.cli.context import console, fail, settings
from services.common.kafka import KafkaUnavailable, ensure_topics, start_group_at_end
from services.common.settings import SHARED_DIR

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = Path(os.environ.get("QM_EVAL_DIR", str(SHARED_DIR / "eval")))


def corpus_texts(corpus: Path) -> list[str]:
    """Order texts of every labelled record (.jsonl file or directory of them)."""
    files = sorted(corpus.glob("*.jsonl")) if corpus.is_dir() else [corpus]
    return [
        json.loads(line)["text"]
        for file in files
        for line in file.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def _start_parsers(count: int, group: str, corpus: Path, logs: Path) -> Supervisor:
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
    parsers = Supervisor(env, logs)
    for i in range(count):
        parsers.start(f"parser-{group}-{i}", "lab.cli.bench_load")
    return parsers


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
    running = _start_parsers(parsers, group, corpus, common.state_dir / "bench")
    try:
        asyncio.run(_wait_for_members(common.kafka_bootstrap, group, parsers, 60))
        pids = [proc.pid for proc in running.procs.values()]
        broker = broker_pid(common.state_dir)
        return asyncio.run(
            measure(common.kafka_bootstrap, batch, mode, run, pids, broker, timeout, rate)
        )
    finally:
        running.stop_all()


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
    """A parser process with the LOAD-TEST replay backend, which the product does not have."""
    from lab.parser.replay import ReplayBackend
    from services.common.logs import configure_logging
    from services.common.metrics import app_registry
    from services.parser.app import build_app
    from services.parser.settings import ParserSettings

    parser_settings = ParserSettings()
    configure_logging("parser", parser_settings.log_level)
    backend = ReplayBackend(os.environ["QM_BENCH_REPLAY_CORPUS"])
    logging.getLogger("qm.parser").warning("LOAD-TEST parser with the replay backend")
    app, _ = build_app(parser_settings, backend, app_registry())
    asyncio.run(app.run())


if __name__ == "__main__":
    _serve_replay_parser()
