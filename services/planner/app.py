"""Builds the planner's FastStream app from settings."""

from __future__ import annotations

from faststream import FastStream
from prometheus_client import CollectorRegistry

from schemas.topics import Topic
from services.common.broker import make_broker
from services.common.lag import lag_loop
from services.common.lifecycle import wire_live
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
        wire_live(
            app,
            settings,
            settings.metrics_port,
            registry,
            planner.run_timer,
            lambda: lag_loop(
                settings.kafka_bootstrap, settings.group_id, [Topic.ORDERS_PARSED.value]
            ),
        )
    return app, planner
