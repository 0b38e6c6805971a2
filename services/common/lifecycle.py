"""Start-up wiring every live service shares: topics, /metrics, and background loops."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from faststream import FastStream
from prometheus_client import CollectorRegistry

from services.common.kafka import ensure_topics
from services.common.metrics import serve_metrics
from services.common.settings import CommonSettings

Loop = Callable[[], Coroutine[Any, Any, None]]


def wire_live(
    app: FastStream,
    settings: CommonSettings,
    metrics_port: int,
    registry: CollectorRegistry,
    *loops: Loop,
) -> None:
    """Create topics and serve /metrics before consuming; run loops until shutdown."""
    tasks: list[asyncio.Task[None]] = []

    @app.on_startup
    async def prepare() -> None:
        await ensure_topics(settings.kafka_bootstrap, settings.partitions)
        serve_metrics(metrics_port, registry, settings.metrics_host)

    @app.after_startup
    async def start_loops() -> None:
        tasks.extend(asyncio.create_task(loop()) for loop in loops)

    @app.on_shutdown
    async def stop_loops() -> None:
        for task in tasks:
            task.cancel()
