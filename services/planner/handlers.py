"""Planner handler: batch parsed orders, solve off the event loop, publish the proposal."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TypeVar

from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from prometheus_client import CollectorRegistry

from schemas.audit import AuditRecorded
from schemas.disruptions import DisruptionCause, PlanDisrupted
from schemas.envelope import content_id, utcnow
from schemas.fleet import VehicleReported
from schemas.orders import OrderParsed
from schemas.plans import PlanProposed
from schemas.theater import Reported
from schemas.topics import Topic
from schemas.zones import ZoneDeclared
from services.common.broker import (
    dead_letter,
    dead_letter_value,
    decode_or_dead_letter,
    publish,
    publishes,
    service_router,
    subscribe,
)
from services.common.codec import encode
from services.common.scenario import LoadedScenario
from services.common.signing import UntrustedStoreError, check_reporter, load_verified_store
from services.common.zones import ZoneBook, cut_vehicles, vehicles_cut
from services.planner.batching import Batcher
from services.planner.fleet import FleetState
from services.planner.locks import Lock, LocksInfeasible
from services.planner.metrics import PlannerMetrics
from services.planner.pipeline import PlanInvalid, plan_batch
from services.planner.replan import (
    Basis,
    Disruption,
    Lineage,
    Proposed,
    combine,
    superseding,
)
from services.planner.settings import PlannerSettings
from services.planner.solver import Progress

log = logging.getLogger("qm.planner")
SERVICE = "planner"
# Who may tell the planner that a vehicle is down or an area closed.
R = TypeVar("R", bound=Reported)


class Planner:
    """Batches orders; the lock makes adding and flushing one sequence, so commits are exact."""

    def __init__(
        self,
        settings: PlannerSettings,
        broker: KafkaBroker,
        loaded: LoadedScenario,
        metrics: PlannerMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.loaded = loaded
        self.metrics = metrics or PlannerMetrics.on(CollectorRegistry())
        self.batcher = Batcher(settings.batch_params())
        self._lock = asyncio.Lock()
        self._last: KafkaMessage | None = None
        self.lineage = Lineage(max_orders=settings.replan_max_orders)
        self.fleet = FleetState()
        self.zones = ZoneBook()

    async def on_order_parsed(self, order: OrderParsed, msg: KafkaMessage) -> None:
        """Add an order to the open batch; flush when the batch is full."""
        async with self._lock:
            self._last = msg  # committed once the batch it joins is planned
            full = self.batcher.add(order, utcnow())
            self.metrics.pending.set(len(self.batcher))
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

    async def on_audit(self, entry: AuditRecorded) -> None:
        """Follow the gate's outcomes: a release may lock stops the head must keep."""
        async with self._lock:
            basis = self.lineage.on_outcome(entry.kind, entry.plan_id)
            if basis is not None:
                log.info(
                    "%s was released while %s revised it: re-planning with its stops locked",
                    entry.plan_id,
                    basis.supersedes,
                )
                await self._plan([], basis)

    async def on_vehicle_reported(self, msg: KafkaMessage) -> None:
        """A vehicle's new state: plan with it from now on; a vehicle going out revises the
        open plan that uses it, and a released plan's stops on it raise an alert."""
        found = await self._read(Topic.FLEET_REPORTED, VehicleReported, msg)
        if found is None:
            return
        key, report = found
        async with self._lock:
            change = self.fleet.apply(report.vehicle_id if report else key, report)
            self.metrics.vehicles_out.set(len(self.fleet.excluded_now()))
            if change is None or not change.went_out or change.after is None:
                return
            after = change.after
            log.warning(
                "%s reported %s by %s: %s",
                after.vehicle_id,
                after.status.value,
                after.operator_id,
                after.reason or "no reason given",
            )
            disruption = self.lineage.disrupt({after.vehicle_id}, utcnow())
            if disruption is not None:
                detail = (
                    f"{after.vehicle_id} is {after.status.value} ({after.reason or 'no reason'})"
                )
                await self._disrupted(disruption, "vehicle_down", detail, after.message_id)

    async def on_zone_declared(self, msg: KafkaMessage) -> None:
        """A closed area: plan around it from now on; a zone that cuts what is left of a live
        route revises it (and raises an alert when that route was released)."""
        found = await self._read(Topic.ZONES_DECLARED, ZoneDeclared, msg)
        if found is None:
            return
        key, declared = found
        async with self._lock:
            zone = self.zones.apply(declared.zone_id if declared else key, declared)
            self.metrics.zones.set(len(self.zones.zones))
            if zone is None:
                return
            now = utcnow()
            log.warning(
                "closed area %s declared by %s: %s", zone.zone_id, zone.operator_id, zone.reason
            )
            cut: set[str] = set()
            for plan in self.lineage.live(now):
                cut |= set(cut_vehicles(plan, self.loaded.scenario, zone, now))
            if not cut:
                return
            disruption = self.lineage.disrupt(cut, now)
            if disruption is not None:
                detail = (
                    f"closed area {zone.zone_id} ({zone.reason or 'no reason'}) cuts the "
                    f"route of {', '.join(sorted(cut))}"
                )
                await self._disrupted(
                    disruption, "zone_closed", detail, zone.message_id, zone.zone_id
                )

    async def _read(
        self, topic: Topic, model: type[R], msg: KafkaMessage
    ) -> tuple[str, R | None] | None:
        """(key, report) of a trusted report, (key, None) for a tombstone; None when the
        record was dead-lettered (it does not decode, or no trusted key signed it)."""
        key = (getattr(msg.raw_message, "key", None) or b"").decode(errors="replace")
        if not msg.body:
            self.metrics.reports.labels(topic=topic.value, outcome="tombstone").inc()
            return key, None
        report = await decode_or_dead_letter(self.broker, topic, model, msg, self.settings, SERVICE)
        if report is None:
            self.metrics.reports.labels(topic=topic.value, outcome="invalid").inc()
            return None
        refused = self.refusal(report, utcnow())
        if refused is not None:
            self.metrics.reports.labels(topic=topic.value, outcome=refused[0]).inc()
            await dead_letter(self.broker, topic, msg, refused[0], refused[1], SERVICE)
            return None
        self.metrics.reports.labels(topic=topic.value, outcome="applied").inc()
        return key, report

    def refusal(self, report: Reported, now: datetime) -> tuple[str, str] | None:
        """(reason, detail) unless a trusted key of an approver or admin signed the report."""
        try:
            trust = load_verified_store(self.settings.trust_store, self.settings.admin_public_key)
        except UntrustedStoreError as err:
            return "untrusted_store", str(err)
        return check_reporter(report, trust, now)

    async def _disrupted(
        self,
        disruption: Disruption,
        cause: DisruptionCause,
        detail: str,
        because: str,
        zone_id: str | None = None,
    ) -> None:
        """Propose the revision; when released stops move, alert (log, metric, event)."""
        before = self.lineage.head
        log.info("revising %s: %s", disruption.basis.supersedes, detail)
        await self._plan([], disruption.basis)
        revision = self.lineage.head if self.lineage.head != before else None
        if disruption.released is None:
            return
        self.metrics.disruptions.labels(cause=cause).inc()
        log.error(
            "ALERT released plan %s disrupted: %s; stops %s move%s",
            disruption.released,
            detail,
            ", ".join(disruption.moved),
            f" in revision {revision}, waiting for approval"
            if revision
            else " but no revision could be made: re-plan by hand",
        )
        event = PlanDisrupted(
            message_id=content_id("msg", "disrupted", disruption.released, cause, because),
            occurred_at=utcnow(),
            plan_id=disruption.released,
            cause=cause,
            vehicle_ids=disruption.vehicles,
            order_ids=disruption.moved,
            zone_id=zone_id,
            detail=detail,
            revision=revision,
        )
        await publish(self.broker, Topic.PLANS_DISRUPTED, event, event.plan_id)

    async def _plan(self, orders: list[OrderParsed], basis: Basis | None = None) -> None:
        self.metrics.pending.set(len(self.batcher))
        if orders:
            self.metrics.batch_orders.observe(len(orders))
        if basis is None and self.settings.replan:
            basis = self.lineage.basis(len(orders), utcnow())
        try:
            proposed = await self._solve(orders, basis)
        except PlanInvalid as err:
            self.metrics.plans.labels(outcome="invalid").inc()
            log.error("plan failed verification, not published: %s", err)
            for order in orders:
                await dead_letter_value(
                    self.broker,
                    Topic.ORDERS_PARSED,
                    encode(order),
                    order.order_id.encode(),
                    "plan_verification_failed",
                    str(err),
                    SERVICE,
                )
        else:
            if proposed is not None:
                await self._propose(proposed)
        if self._last is not None and not len(self.batcher):
            # Commits everything consumed so far: all of it is in a plan or dead-lettered.
            await self._last.ack()

    async def _propose(self, proposed: Proposed) -> None:
        plan = proposed.plan
        await publish(self.broker, Topic.PLANS_PROPOSED, plan, plan.plan_id)
        self.lineage.record(proposed)
        self.metrics.plans.labels(outcome="replanned" if plan.supersedes else "proposed").inc()
        self.metrics.solve_seconds.observe(plan.solver.wall_seconds)
        self.metrics.objective.set(plan.solver.objective)
        for unserved in plan.unserved:
            self.metrics.unserved.labels(priority=unserved.priority.value).inc()
        log.info(
            "proposed %s%s: %d route(s), %.1f km, %d unserved",
            plan.plan_id,
            f" superseding {plan.supersedes}" if plan.supersedes else "",
            len(plan.routes),
            plan.distance_km,
            len(plan.unserved),
        )

    async def _solve(self, orders: list[OrderParsed], basis: Basis | None) -> Proposed | None:
        """Solve the batch, joined to the plan it supersedes when there is one."""
        if basis is not None:
            combined = combine(basis.orders, orders)
            log.info(
                "re-planning %s with %d new order(s), %d locked stop(s), limit %.1fs",
                basis.supersedes,
                len(orders),
                len(basis.locks),
                self.settings.time_limit_s,
            )
            try:
                plan = await self._solve_orders(combined, self._kept(basis))
            except LocksInfeasible as err:
                if not orders:
                    log.error(
                        "cannot keep the released stops of %s (%s) and no new order waits: "
                        "%s cannot be released; reject it in `qm plans` and resubmit its orders",
                        basis.locked_to,
                        err,
                        basis.supersedes,
                    )
                    return None
                log.warning("cannot keep the released stops (%s): planning the batch alone", err)
            else:
                return Proposed(
                    superseding(plan, basis.supersedes), tuple(combined), basis.locked_to
                )
        log.info(
            "solving a batch of %d order(s), limit %.1fs", len(orders), self.settings.time_limit_s
        )
        return Proposed(await self._solve_orders(orders, ()), tuple(orders))

    def _kept(self, basis: Basis) -> tuple[Lock, ...]:
        """The basis' locks, less those on vehicles whose released route a closed area cuts."""
        anchor = self.lineage.plans.get(basis.locked_to or "")
        if anchor is None or not self.zones.zones:
            return basis.locks
        now = utcnow()
        until = now + timedelta(hours=self.settings.plan_params().horizon_hours)
        cut = vehicles_cut(anchor.plan, self.loaded.scenario, self.zones.active(now, until), now)
        return tuple(lk for lk in basis.locks if lk.vehicle_id not in cut)

    async def _solve_orders(
        self, orders: list[OrderParsed], locks: tuple[Lock, ...]
    ) -> PlanProposed:
        now = utcnow()
        until = now + timedelta(hours=self.settings.plan_params().horizon_hours)
        out = self.fleet.excluded(self.loaded.scenario, now, until)
        # A vehicle that is out keeps no released stop: they move with the revision.
        locks = tuple(lk for lk in locks if lk.vehicle_id not in out)
        self.metrics.solving.set(1)
        try:
            return await asyncio.to_thread(
                plan_batch,
                orders,
                self.loaded,
                now,
                self.settings.plan_params(),
                self.settings.solve_params(),
                self._report_progress,
                locks=locks,
                on_fallback=self.count_matrix_fallback,
                fleet=self.fleet,
                zones=self.zones,
            )
        finally:
            self.metrics.solving.set(0)

    def _report_progress(self, progress: Progress) -> None:
        """Runs in the solver's thread at every new best solution: metrics are thread-safe."""
        self.metrics.search_best.set(progress.objective)
        self.metrics.search_improvements.inc()
        self.metrics.search_elapsed.set(progress.wall_seconds)

    def count_matrix_fallback(self, provider: str, reason: str) -> None:
        """Runs in plan_batch's thread whenever great circle stands in for the road service."""
        self.metrics.matrix_fallbacks.labels(provider=provider, reason=reason).inc()


def build_router(planner: Planner) -> KafkaRouter:
    """Subscribe the planner to parsed orders (offsets are committed only after a plan), the
    gate's outcomes and the theater's state topics."""
    router = service_router(planner.broker, SERVICE)
    limit = planner.settings.max_message_bytes
    subscribe(
        router,
        Topic.ORDERS_PARSED,
        planner.on_order_parsed,
        group_id=planner.settings.group_id,
        ack_policy=AckPolicy.MANUAL,
        max_bytes=limit,
    )
    if planner.settings.replan:
        # No group, from the start: every planner instance follows the gate's outcomes for
        # its own plans, including those decided while it was down.
        subscribe(router, Topic.AUDIT_EVENTS, planner.on_audit, group_id=None, max_bytes=limit)
    # The state topics, whole at every start: every instance plans with the same theater.
    # Their handlers read records raw: a tombstone (no value) removes a vehicle or a zone.
    subscribe(router, Topic.FLEET_REPORTED, planner.on_vehicle_reported, group_id=None)
    subscribe(router, Topic.ZONES_DECLARED, planner.on_zone_declared, group_id=None)
    publishes(router, Topic.PLANS_PROPOSED, Topic.PLANS_DISRUPTED)
    return router
