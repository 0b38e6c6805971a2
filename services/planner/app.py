"""Builds the planner's FastStream app from settings."""

from __future__ import annotations

import logging

from faststream import FastStream
from prometheus_client import CollectorRegistry

from schemas.plans import PlanProposed
from schemas.topics import Topic
from services.common.broker import make_broker
from services.common.codec import DecodeError, decode
from services.common.kafka import read_topics
from services.common.lag import lag_loop
from services.common.lifecycle import wire_live
from services.common.scenario import load_scenario
from services.planner.handlers import Planner, build_router
from services.planner.settings import PlannerSettings

log = logging.getLogger("qm.planner")


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

        @app.on_startup  # after wire_live's hook: the topics exist by now
        async def load_history() -> None:
            if settings.dedupe:
                await preload(planner)
            else:
                log.warning("QM_PLANNER_DEDUPE is off: orders may be planned twice after a crash")

    return app, planner


async def preload(planner: Planner) -> None:
    """Orders already in a proposed plan are never batched again, even after a crash."""
    settings = planner.settings
    records = await read_topics(settings.kafka_bootstrap, [Topic.PLANS_PROPOSED.value])
    planned: list[str] = []
    for record in records:
        try:
            planned.extend(decode(PlanProposed, record.value, settings.max_message_bytes).order_ids)
        except DecodeError:
            continue  # not the planner's input; the gate dead-letters it
    planner.batcher.remember(planned)
    log.info("planner preloaded %d planned order(s) from %d plan(s)", len(planned), len(records))
