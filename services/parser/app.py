"""Builds the parser's FastStream app from settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faststream import FastStream
from prometheus_client import CollectorRegistry

from schemas.topics import Topic
from services.common.broker import make_broker
from services.common.kafka import read_topics
from services.common.lag import lag_loop
from services.common.lifecycle import wire_live
from services.common.scenario import load_scenario
from services.parser.handlers import Parser, build_router
from services.parser.judge import RedLineJudge
from services.parser.llm import LLMBackend
from services.parser.metrics import ParserMetrics
from services.parser.review import HISTORY_TOPICS, ReviewState
from services.parser.settings import ParserSettings


def review_history(settings: ParserSettings) -> Callable[[ReviewState], Awaitable[None]]:
    """Reads every held order and every reviewed outcome back from the order topics."""

    async def refresh(state: ReviewState) -> None:
        records = await read_topics(settings.kafka_bootstrap, HISTORY_TOPICS)
        state.absorb(records, settings.max_message_bytes)

    return refresh


def build_app(
    settings: ParserSettings,
    backend: LLMBackend | None,
    registry: CollectorRegistry | None = None,
    *,
    live: bool = True,
    judge: RedLineJudge | None = None,
) -> tuple[FastStream, Parser]:
    """The parser app, counting on `registry` (a fresh one when not given); `live=False` skips
    topic creation and the metrics server (tests)."""
    registry = registry if registry is not None else CollectorRegistry()
    broker = make_broker(settings, "parser", registry)
    scenario = load_scenario(settings.scenario).scenario
    parser = Parser(settings, broker, scenario, backend, judge, ParserMetrics.on(registry))
    broker.include_router(build_router(parser))
    app = FastStream(broker)
    if live:
        parser.refresh_reviews = review_history(settings)
        wire_live(
            app,
            settings,
            settings.metrics_port,
            registry,
            lambda: lag_loop(
                registry,
                settings.kafka_bootstrap,
                settings.group_id,
                [Topic.ORDERS_SUBMITTED.value],
            ),
        )

        @app.on_startup  # after wire_live's hook, so the topics exist by now
        async def load_waiting() -> None:
            # The queues of orders waiting for a person survive a restart (and fill the gauges).
            await parser.refresh_reviews(parser.reviews)

    return app, parser
