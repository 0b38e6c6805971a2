"""`qm status`: the local stack at a glance: broker, services, /metrics, topics, lag, Prometheus."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
from rich.table import Table

from schemas.topics import Topic
from services.cli.config import ServiceSettings, service_settings
from services.cli.context import console, run
from services.common.kafka import all_topics
from services.common.lag import TRANSIENT, LagReader, PartitionLag


def metrics_ports(services: ServiceSettings) -> dict[str, int]:
    """Each service's /metrics port, as the service itself reads it (QM_<SERVICE>_METRICS_PORT)."""
    return {
        "parser": services.parser.metrics_port,
        "planner": services.planner.metrics_port,
        "gate": services.gate.metrics_port,
    }


def consumer_groups(services: ServiceSettings) -> dict[str, list[str]]:
    """The consumer groups whose lag matters, with the topics they read (the gate has none)."""
    return {
        services.parser.group_id: [Topic.ORDERS_SUBMITTED.value],
        services.planner.group_id: [Topic.ORDERS_PARSED.value],
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


async def _kafka(
    bootstrap: str, groups: dict[str, list[str]]
) -> tuple[dict[str, list[int]], dict[str, list[PartitionLag]]]:
    reader = LagReader(bootstrap, request_timeout_ms=5_000)
    try:
        await asyncio.wait_for(reader.start(), 10)
        partitions = await reader.partitions(all_topics())
        lags = {g: await reader.group_lag(g, topics) for g, topics in groups.items()}
        return partitions, lags
    finally:
        await reader.close()


def _prometheus_url(port: int) -> str | None:
    url = f"http://127.0.0.1:{port}"
    try:
        httpx.get(f"{url}/-/ready", timeout=2).raise_for_status()
    except httpx.HTTPError:
        return None
    return url


def status() -> None:
    """Show the local stack's health: Kafka, services, /metrics, topics, lag, Prometheus."""
    services = service_settings()
    common = services.common
    groups = consumer_groups(services)
    table = Table(title="Services", header_style="bold")
    for column in ("service", "process", "/metrics"):
        table.add_column(column)
    for name, port in metrics_ports(services).items():
        pid = _pid_alive(common.state_dir / "pids" / f"{name}.pid")
        table.add_row(name, pid, _metrics(port))
    console.print(table)

    try:
        partitions, lags = run(_kafka(common.kafka_bootstrap, groups))
    except TRANSIENT as err:
        console.print(f"[red]Kafka at {common.kafka_bootstrap}: unreachable[/] ({err!r})")
        partitions, lags = {}, {}
    else:
        console.print(f"[green]Kafka at {common.kafka_bootstrap}: reachable[/]")
    if partitions:
        topics = Table(title="Topics", header_style="bold")
        for column in ("topic", "partitions", *groups):
            topics.add_column(column)
        for topic, numbers in sorted(partitions.items()):
            per_group = [
                str(sum(r.lag for r in rows if r.topic == topic)) if topic in groups[g] else ""
                for g, rows in lags.items()
            ]
            topics.add_row(topic, str(len(numbers)), *per_group)
        console.print(topics)
    url = _prometheus_url(common.prometheus_port)
    console.print(
        f"Prometheus: {url}"
        if url
        else "Prometheus: not running (deploy/prometheus/prometheus.sh start)"
    )
