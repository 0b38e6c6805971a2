"""Builds the parser's FastStream app from settings."""

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
from services.parser.handlers import Parser, build_router
from services.parser.llm import LLMBackend
from services.parser.settings import ParserSettings


def build_app(
    settings: ParserSettings,
    backend: LLMBackend | None,
    registry: CollectorRegistry | None = None,
    *,
    live: bool = True,
) -> tuple[FastStream, Parser]:
    """The parser app; `live=False` skips topic creation and the metrics server (tests)."""
    broker = make_broker(settings, "parser", registry)
    parser = Parser(settings, broker, load_scenario(settings.scenario).scenario, backend)
    broker.include_router(build_router(parser))
    app = FastStream(broker)
    if live:
        tasks: list[asyncio.Task[None]] = []

        @app.on_startup
        async def prepare() -> None:
            await ensure_topics(settings.kafka_bootstrap, settings.partitions)
            serve_metrics(settings.metrics_port, registry or REGISTRY, settings.metrics_host)

        @app.after_startup
        async def start_lag() -> None:
            tasks.append(
                asyncio.create_task(
                    lag_loop(
                        settings.kafka_bootstrap, settings.group_id, [Topic.ORDERS_SUBMITTED.value]
                    )
                )
            )

        @app.on_shutdown
        async def stop_lag() -> None:
            for task in tasks:
                task.cancel()

    return app, parser
