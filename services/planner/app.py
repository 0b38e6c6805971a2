"""Builds the planner's FastStream app from settings."""

from __future__ import annotations

import asyncio

from faststream import FastStream
from prometheus_client import REGISTRY, CollectorRegistry

from schemas.topics import Topic
from services.common.broker import make_broker
from services.common.kafka import ensure_topics
from services.common.lag import lag_loop
from services.common.metrics import serve_metrics
from services.common.scenario import load_scenario
from services.planner.handlers import Planner, build_router
from services.planner.settings import PlannerSettings


def build_app(
    settings: PlannerSettings, registry: CollectorRegistry | None = None, *, live: bool = True
) -> tuple[FastStream, Planner]:
    """The planner app; `live=False` skips topic creation, timer and metrics server (tests)."""
    broker = make_broker(settings, "planner", registry)
    planner = Planner(settings, broker, load_scenario(settings.scenario))
    broker.include_router(build_router(planner))
    app = FastStream(broker)
    if live:
        tasks: list[asyncio.Task[None]] = []

        @app.on_startup
        async def prepare() -> None:
            await ensure_topics(settings.kafka_bootstrap, settings.partitions)
            serve_metrics(settings.metrics_port, registry or REGISTRY, settings.metrics_host)

        @app.after_startup
        async def start_timer() -> None:
            tasks.append(asyncio.create_task(planner.run_timer()))
            tasks.append(
                asyncio.create_task(
                    lag_loop(
                        settings.kafka_bootstrap, settings.group_id, [Topic.ORDERS_PARSED.value]
                    )
                )
            )

        @app.on_shutdown
        async def stop_timer() -> None:
            for task in tasks:
                task.cancel()

    return app, planner
