"""`qm status`: the local stack at a glance: broker, services, /metrics, topics, lag, Prometheus."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
from rich.table import Table

from services.cli.context import console, run, settings
from services.common.kafka import all_topics
from services.common.lag import TRANSIENT, LagReader, PartitionLag

SERVICES = {"parser": 9401, "planner": 9402, "gate": 9403}
GROUPS = {
    os.environ.get("QM_PARSER_GROUP_ID", "qm-parser"): ["orders.submitted.v1"],
    os.environ.get("QM_PLANNER_GROUP_ID", "qm-planner"): ["orders.parsed.v1"],
}


def _pid_alive(pid_file: Path) -> str:
    if not pid_file.exists():
        return "not started"
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return "dead (stale pid file)"
    except PermissionError:
        pass  # alive, owned by someone else
    return f"running (pid {pid})"


def _metrics(port: int) -> str:
    try:
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).raise_for_status()
    except httpx.HTTPError:
        return "unreachable"
    return f"ok :{port}"


async def _kafka(bootstrap: str) -> tuple[dict[str, list[int]], dict[str, list[PartitionLag]]]:
    reader = LagReader(bootstrap, request_timeout_ms=5_000)
    try:
        await asyncio.wait_for(reader.start(), 10)
        partitions = await reader.partitions(all_topics())
        lags = {g: await reader.group_lag(g, topics) for g, topics in GROUPS.items()}
        return partitions, lags
    finally:
        await reader.close()


def _prometheus_url() -> str | None:
    port = os.environ.get("QM_PROMETHEUS_PORT", "19090")
    url = f"http://127.0.0.1:{port}"
    try:
        httpx.get(f"{url}/-/ready", timeout=2).raise_for_status()
    except httpx.HTTPError:
        return None
    return url


def status() -> None:
    """Show the local stack's health: Kafka, services, /metrics, topics, lag, Prometheus."""
    common = settings()
    table = Table(title="Services", header_style="bold")
    for column in ("service", "process", "/metrics"):
        table.add_column(column)
    for name, default_port in SERVICES.items():
        port = int(os.environ.get(f"QM_{name.upper()}_METRICS_PORT", default_port))
        pid = _pid_alive(common.state_dir / "pids" / f"{name}.pid")
        table.add_row(name, pid, _metrics(port))
    console.print(table)

    try:
        partitions, lags = run(_kafka(common.kafka_bootstrap))
    except TRANSIENT as err:
        console.print(f"[red]Kafka at {common.kafka_bootstrap}: unreachable[/] ({err!r})")
        partitions, lags = {}, {}
    else:
        console.print(f"[green]Kafka at {common.kafka_bootstrap}: reachable[/]")
    if partitions:
        topics = Table(title="Topics", header_style="bold")
        for column in ("topic", "partitions", *GROUPS):
            topics.add_column(column)
        for topic, numbers in sorted(partitions.items()):
            per_group = [
                str(sum(r.lag for r in rows if r.topic == topic)) if topic in GROUPS[g] else ""
                for g, rows in lags.items()
            ]
            topics.add_row(topic, str(len(numbers)), *per_group)
        console.print(topics)
    url = _prometheus_url()
    console.print(
        f"Prometheus: {url}"
        if url
        else "Prometheus: not running (deploy/prometheus/prometheus.sh start)"
    )
