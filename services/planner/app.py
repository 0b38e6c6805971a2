"""Builds the planner's FastStream app from settings."""

from __future__ import annotations

import contextlib
import logging

from faststream import FastStream
from prometheus_client import CollectorRegistry

from schemas.orders import OrderParsed
from schemas.plans import PlanProposed, PlanReleased
from schemas.topics import Topic
from services.common.broker import make_broker
from services.common.codec import DecodeError, decode
from services.common.kafka import Record, read_topics
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
    """Orders already in a proposed plan are never batched again, even after a crash; with
    re-planning on, the open plan and its lineage are rebuilt so a restart can still revise it."""
    settings = planner.settings
    topics = [Topic.PLANS_PROPOSED.value]
    if settings.replan:
        topics += [Topic.PLANS_RELEASED.value, Topic.ORDERS_PARSED.value]
    records = await read_topics(settings.kafka_bootstrap, topics)
    limit = settings.max_message_bytes
    proposals: list[PlanProposed] = []
    released: list[str] = []
    for record in records:
        with contextlib.suppress(DecodeError):  # not ours to judge; the consumers dead-letter it
            if record.topic == Topic.PLANS_PROPOSED.value:
                proposals.append(decode(PlanProposed, record.value, limit))
            elif record.topic == Topic.PLANS_RELEASED.value:
                released.append(decode(PlanReleased, record.value, limit).plan_id)
    # In the order read, so the batcher's bounded memory forgets the oldest first.
    planned = list(dict.fromkeys(o for plan in proposals for o in plan.order_ids))
    planner.batcher.remember(planned)
    log.info("planner preloaded %d planned order(s) from %d plan(s)", len(planned), len(proposals))
    if settings.replan:
        orders = _parsed_orders(records, set(planned), limit)
        planner.lineage.restore(sorted(proposals, key=lambda p: p.occurred_at), released, orders)
        if planner.lineage.head is not None:
            log.info("re-planning resumes from %s", planner.lineage.head)


def _parsed_orders(records: list[Record], wanted: set[str], limit: int) -> dict[str, OrderParsed]:
    """The parsed orders behind planned ones (keyed by order id, so the rest is not decoded)."""
    orders: dict[str, OrderParsed] = {}
    for record in records:
        if record.topic != Topic.ORDERS_PARSED.value:
            continue
        if record.key is not None and record.key.decode(errors="replace") not in wanted:
            continue
        with contextlib.suppress(DecodeError):
            order = decode(OrderParsed, record.value, limit)
            if order.order_id in wanted:
                orders[order.order_id] = order
    return orders
