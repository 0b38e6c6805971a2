"""Gate handlers: remember proposals, apply signed decisions, publish releases."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CollectorRegistry

from schemas.audit import AuditKind
from schemas.envelope import utcnow
from schemas.plans import PlanDecided, PlanProposed, PlanReleased
from schemas.topics import Topic
from services.common.audit import ChainHead, append
from services.common.broker import publish, publishes, service_router, subscribe
from services.common.codec import DecodeError
from services.common.scenario import load_scenario
from services.common.signing import UntrustedStoreError, load_verified_store
from services.gate.history import apply_report, report_of
from services.gate.metrics import GateMetrics
from services.gate.rules import GateState, Outcome, Policy, Refusal, Withdrawn, evaluate
from services.gate.settings import GateSettings

log = logging.getLogger("qm.gate")
SERVICE = "gate"


class Gate:
    """The gate's state and the handlers that change it."""

    def __init__(
        self, settings: GateSettings, broker: KafkaBroker, metrics: GateMetrics | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics or GateMetrics.on(CollectorRegistry())
        self.broker = broker
        self.state = GateState()
        # The gate's own catalog: which items need two people is never read from a plan.
        self.policy = Policy(
            load_scenario(settings.scenario).scenario,
            max_lifetime=settings.max_lifetime,
            clock_skew=settings.clock_skew,
        )
        # Where each decision was read (topic/partition/offset), to audit a later withdrawal
        # under the record it came from, so a restart restores it as withdrawn.
        self.sources: dict[str, str] = {}
        self._arrived: dict[str, asyncio.Event] = {}
        self.head = ChainHead()
        # Decision records already applied before a restart, and what came of them.
        self.audited: dict[str, AuditKind] = {}
        # Records dead-lettered before a restart: the replay skips them instead of repeating.
        self.dead_lettered: set[str] = set()
        self.metrics.oldest_pending.set_function(self.oldest_pending_seconds)
        self.metrics.plans_known.set_function(lambda: len(self.state.plans))

    def _event(self, plan_id: str) -> asyncio.Event:
        return self._arrived.setdefault(plan_id, asyncio.Event())

    def _waiting(self) -> list[PlanProposed]:
        final = set(self.state.released) | self.state.rejected | set(self.state.superseded_by)
        now = utcnow()
        return [
            plan
            for plan_id, plan in self.state.plans.items()
            if plan_id not in final and plan.expires_at > now
        ]

    def _pending(self) -> int:
        return len(self._waiting())

    def oldest_pending_seconds(self) -> float:
        """Age of the oldest plan still waiting for a decision."""
        waiting = self._waiting()
        if not waiting:
            return 0.0
        return (utcnow() - min(plan.occurred_at for plan in waiting)).total_seconds()

    def replayed_plan(self, msg: KafkaMessage) -> bool:
        """A proposal read at start-up already, or dead-lettered before: not decoded again."""
        key = getattr(msg.raw_message, "key", None)
        known = isinstance(key, bytes) and key.decode(errors="replace") in self.state.plans
        return known or self.dead_lettered_before(msg)

    def dead_lettered_before(self, msg: KafkaMessage) -> bool:
        """A record dead-lettered before a restart: the replay skips it instead of repeating."""
        return _source(msg) in self.dead_lettered

    async def on_plan_proposed(self, plan: PlanProposed) -> None:
        """Remember a proposed plan so decisions can be checked against it."""
        self.state.remember_plan(plan)
        self._event(plan.plan_id).set()
        self.metrics.plans_pending.set(self._pending())

    async def on_state_report(self, msg: KafkaMessage) -> None:
        """A vehicle's state or a closed area, as a duty officer signed it: the gate lets go of
        released stops it strands and refuses plans that cross a closed area. Read raw: a
        tombstone (no value) removes what it names; the planner dead-letters what is refused."""
        record: Any = msg.raw_message  # a single ConsumerRecord: not a batch subscriber
        try:
            report = report_of(record, self.settings.max_message_bytes)
        except DecodeError:
            self.metrics.reports.labels(topic=record.topic, outcome="invalid").inc()
            return
        try:
            trust = load_verified_store(self.settings.trust_store, self.settings.admin_public_key)
        except UntrustedStoreError:
            self.metrics.reports.labels(topic=record.topic, outcome="untrusted_store").inc()
            return
        outcome = apply_report(self.state, record, report, trust, utcnow())
        self.metrics.reports.labels(topic=record.topic, outcome=outcome).inc()

    async def on_plan_released(self, release: PlanReleased) -> None:
        """Remember releases (ours, read back) so a plan is never released twice."""
        self.state.remember_release(release)

    async def on_plan_decided(self, decision: PlanDecided, msg: KafkaMessage) -> None:
        """Verify a human decision; release the plan once its quorum of approvals is met."""
        source = _source(msg)
        self.sources[decision.message_id] = source
        kind = self.audited.get(source) if source else None
        # A release the trail recorded but that never reached Kafka (crash in between) is
        # re-evaluated below; everything else already applied is restored without judging again.
        if kind is not None and (
            kind != "plan_released" or decision.plan_id in self.state.released
        ):
            self.state.restore(decision, kind)
            return
        self.metrics.decisions.labels(decision=decision.decision.value).inc()
        if decision.plan_id not in self.state.plans:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._event(decision.plan_id).wait(), self.settings.plan_wait_s
                )
        try:
            trust = load_verified_store(self.settings.trust_store, self.settings.admin_public_key)
        except UntrustedStoreError as err:
            outcome = Outcome(Refusal.UNTRUSTED_STORE, str(err))
        else:
            outcome = evaluate(self.state, decision, trust, utcnow(), self.policy)
        for gone in outcome.withdrawn:
            await self._withdraw(gone)
        if kind is None:
            await self._audit(decision, outcome, source)
        if outcome.release is not None:
            await publish(
                self.broker, Topic.PLANS_RELEASED, outcome.release, outcome.release.plan_id
            )
            self.metrics.releases.inc()
        if outcome.refusal is not None:
            self.metrics.refusals.labels(reason=outcome.refusal.value).inc()
        log.log(
            logging.WARNING if outcome.refusal else logging.INFO,
            "decision %s on %s by %s: %s (%s)",
            decision.message_id,
            decision.plan_id,
            decision.operator_id,
            _kind(outcome),
            outcome.refusal.value if outcome.refusal else outcome.detail,
        )
        self.metrics.plans_pending.set(self._pending())

    async def _withdraw(self, gone: Withdrawn) -> None:
        """Audit that an approval given earlier no longer counts, under its own record."""
        decision = gone.decision
        source = self.sources.get(decision.message_id, "")
        await self._audit(decision, Outcome(gone.refusal, f"withdrawn: {gone.detail}"), source)
        self.metrics.refusals.labels(reason=gone.refusal.value).inc()
        log.warning(
            "approval %s on %s by %s no longer counts: %s (%s)",
            decision.message_id,
            decision.plan_id,
            decision.operator_id,
            gone.refusal.value,
            gone.detail,
        )

    async def _audit(self, decision: PlanDecided, outcome: Outcome, source: str) -> None:
        """Append the outcome to the hash-chained audit trail, once per decision record."""
        entry = append(
            self.head,
            _kind(outcome),
            decision.plan_id,
            utcnow(),
            decision_id=decision.message_id,
            operator_id=decision.operator_id,
            key_id=decision.key_id or None,
            reason=outcome.refusal.value if outcome.refusal else decision.reason,
            detail=outcome.detail,
            source=source,
        )
        await publish(self.broker, Topic.AUDIT_EVENTS, entry, "audit")
        if source:
            self.audited[source] = entry.kind


def _kind(outcome: Outcome) -> AuditKind:
    if outcome.refusal is not None:
        return "decision_refused"
    if outcome.release is not None:
        return "plan_released"
    return "plan_rejected" if outcome.rejected else "decision_recorded"


def _source(msg: KafkaMessage) -> str:
    record = msg.raw_message
    if isinstance(record, tuple) or getattr(record, "offset", None) is None:
        return ""
    return f"{record.topic}/{record.partition}/{record.offset}"


def build_router(gate: Gate) -> KafkaRouter:
    """Subscribe the gate's handlers to their topics, each taking its contract typed."""
    # No consumer group: every gate start re-reads proposals, releases and decisions from the
    # start, so partial approvals survive restarts and replays are recognised as duplicates.
    router = service_router(
        gate.broker,
        SERVICE,
        seen={
            Topic.PLANS_PROPOSED: gate.replayed_plan,
            Topic.PLANS_RELEASED: gate.dead_lettered_before,
            Topic.PLANS_DECIDED: gate.dead_lettered_before,
        },
    )
    limit = gate.settings.max_message_bytes
    for topic, handler in (
        (Topic.PLANS_PROPOSED, gate.on_plan_proposed),
        (Topic.PLANS_RELEASED, gate.on_plan_released),
        (Topic.PLANS_DECIDED, gate.on_plan_decided),
    ):
        subscribe(router, topic, handler, group_id=None, max_bytes=limit)
    for topic in (Topic.FLEET_REPORTED, Topic.ZONES_DECLARED):
        subscribe(router, topic, gate.on_state_report, group_id=None)
    publishes(router, Topic.PLANS_RELEASED, Topic.AUDIT_EVENTS)
    return router
