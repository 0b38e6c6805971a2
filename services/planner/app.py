"""Builds the planner's FastStream app from settings."""

from __future__ import annotations

import logging

from faststream import FastStream
from prometheus_client import CollectorRegistry

from schemas.envelope import utcnow
from schemas.topics import Topic
from services.common.broker import make_broker
from services.common.kafka import read_topics
from services.common.lag import lag_loop
from services.common.lifecycle import wire_live
from services.common.scenario import load_scenario
from services.planner.handlers import Planner, build_router
from services.planner.history import fold, fold_theater, theater_topics, topics
from services.planner.metrics import PlannerMetrics
from services.planner.settings import PlannerSettings

log = logging.getLogger("qm.planner")


def build_app(
    settings: PlannerSettings, registry: CollectorRegistry | None = None, *, live: bool = True
) -> tuple[FastStream, Planner]:
    """The planner app, counting on `registry` (a fresh one when not given); `live=False` skips
    topic creation, timer and metrics server (tests)."""
    registry = registry if registry is not None else CollectorRegistry()
    broker = make_broker(settings, "planner", registry)
    metrics = PlannerMetrics.on(registry)
    planner = Planner(settings, broker, load_scenario(settings.scenario), metrics)
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
                registry,
                settings.kafka_bootstrap,
                settings.group_id,
                [Topic.ORDERS_PARSED.value],
            ),
        )

        @app.on_startup  # after wire_live's hook: the topics exist by now
        async def load_history() -> None:
            await preload_theater(planner)
            if settings.dedupe:
                await preload(planner)
            else:
                log.warning("QM_PLANNER_DEDUPE is off: orders may be planned twice after a crash")

    return app, planner


async def preload(planner: Planner) -> None:
    """Orders already in a proposed plan are never batched again, even after a crash; with
    re-planning on, the open plan and its lineage are rebuilt so a restart can still revise it."""
    settings = planner.settings
    records = await read_topics(settings.kafka_bootstrap, topics(settings.replan))
    history = fold(records, settings.max_message_bytes)
    planner.batcher.remember(history.planned)
    log.info(
        "planner preloaded %d planned order(s) from %d plan(s)",
        len(history.planned),
        len(history.proposals),
    )
    if settings.replan:
        planner.lineage.restore(
            history.proposals, history.released, history.orders, history.rejected
        )
        if planner.lineage.head is not None:
            log.info("re-planning resumes from %s", planner.lineage.head)


async def preload_theater(planner: Planner) -> None:
    """The fleet state and closed areas before the first plan: a plan made in the first
    seconds after a start already leaves out a vehicle that is down."""
    settings = planner.settings
    records = await read_topics(settings.kafka_bootstrap, theater_topics())
    now = utcnow()
    planner.fleet, planner.zones = fold_theater(
        records, settings.max_message_bytes, lambda r: planner.refusal(r, now) is None
    )
    log.info(
        "planner preloaded %d vehicle report(s), %d closed area(s) (%s)",
        len(planner.fleet.reports),
        len(planner.zones.zones),
        planner.zones.version,
    )
