"""Builds the parser's FastStream app from settings."""

from __future__ import annotations

from faststream import FastStream
from prometheus_client import REGISTRY, CollectorRegistry

from services.common.broker import make_broker
from services.common.kafka import ensure_topics
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

        @app.on_startup
        async def prepare() -> None:
            await ensure_topics(settings.kafka_bootstrap, settings.partitions)
            serve_metrics(settings.metrics_port, registry or REGISTRY, settings.metrics_host)

    return app, parser
