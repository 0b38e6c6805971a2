"""Builds the parser's FastStream app from settings."""

from __future__ import annotations

from faststream import FastStream
from prometheus_client import CollectorRegistry

from schemas.topics import Topic
from services.common.broker import make_broker
from services.common.lag import lag_loop
from services.common.lifecycle import wire_live
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
        wire_live(
            app,
            settings,
            settings.metrics_port,
            registry,
            lambda: lag_loop(
                settings.kafka_bootstrap, settings.group_id, [Topic.ORDERS_SUBMITTED.value]
            ),
        )
    return app, parser
