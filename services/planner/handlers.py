"""Planner handler: batch parsed orders, solve off the event loop, publish the proposal."""

from __future__ import annotations

import asyncio
import logging

from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from schemas.envelope import utcnow
from schemas.orders import OrderParsed
from schemas.topics import Topic
from services.common.broker import decode_or_dead_letter, publish, subscribe
from services.common.codec import encode
from services.common.scenario import LoadedScenario
from services.planner import metrics
from services.planner.batching import Batcher
from services.planner.pipeline import PlanInvalid, plan_batch
from services.planner.settings import PlannerSettings

log = logging.getLogger("qm.planner")
SERVICE = "planner"


class Planner:
    """Batches orders; the lock makes adding and flushing one sequence, so commits are exact."""

    def __init__(
        self, settings: PlannerSettings, broker: KafkaBroker, loaded: LoadedScenario
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.loaded = loaded
        self.batcher = Batcher(settings.batch_params())
        self._lock = asyncio.Lock()
        self._last: KafkaMessage | None = None

    async def on_order_parsed(self, msg: KafkaMessage) -> None:
        """Add an order to the open batch; flush when the batch is full."""
        async with self._lock:
            self._last = msg
            order = await decode_or_dead_letter(
                self.broker, Topic.ORDERS_PARSED, OrderParsed, msg, self.settings, SERVICE
            )
            full = self.batcher.add(order, utcnow()) if order is not None else None
            metrics.PENDING.set(len(self.batcher))
            if full:
                await self._plan(full)

    async def flush_if_due(self) -> None:
        """Close the open batch once its window has passed."""
        async with self._lock:
            if self.batcher.due(utcnow()):
                await self._plan(self.batcher.take())

    async def run_timer(self, every_s: float = 1.0) -> None:
        """Background loop that closes batches by time."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.flush_if_due()
            except Exception:  # the loop must survive; the failure is logged and retried
                log.exception("batch flush failed; will retry")

    async def _plan(self, orders: list[OrderParsed]) -> None:
        metrics.PENDING.set(0)
        metrics.BATCH_ORDERS.observe(len(orders))
        log.info(
            "solving a batch of %d order(s), limit %.1fs", len(orders), self.settings.time_limit_s
        )
        try:
            plan = await asyncio.to_thread(
                plan_batch,
                orders,
                self.loaded,
                utcnow(),
                self.settings.plan_params(),
                self.settings.solve_params(),
            )
        except PlanInvalid as err:
            metrics.PLANS.labels(outcome="invalid").inc()
            log.error("plan failed verification, not published: %s", err)
            for order in orders:
                await self.broker.publish(
                    encode(order),
                    Topic.ORDERS_PARSED.dlq,
                    key=order.order_id.encode(),
                    headers={"qm-reason": "plan_verification_failed", "qm-detail": str(err)[:1000]},
                )
        else:
            await publish(self.broker, Topic.PLANS_PROPOSED, plan, plan.plan_id)
            metrics.PLANS.labels(outcome="proposed").inc()
            metrics.SOLVE_SECONDS.observe(plan.solver.wall_seconds)
            metrics.OBJECTIVE.set(plan.solver.objective)
            for unserved in plan.unserved:
                metrics.UNSERVED.labels(priority=unserved.priority.value).inc()
            log.info(
                "proposed %s: %d route(s), %.1f km, %d unserved",
                plan.plan_id,
                len(plan.routes),
                plan.distance_km,
                len(plan.unserved),
            )
        if self._last is not None:
            # Commits everything consumed so far: all of it is in this plan or dead-lettered.
            await self._last.ack()


def build_router(planner: Planner) -> KafkaRouter:
    """Subscribe the planner to parsed orders; offsets are committed only after a plan."""
    router = KafkaRouter()
    subscribe(
        router,
        Topic.ORDERS_PARSED,
        planner.on_order_parsed,
        group_id=planner.settings.group_id,
        ack_policy=AckPolicy.MANUAL,
    )
    return router
