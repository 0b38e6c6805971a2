"""Gate handlers, on the in-memory broker and on a real one: releases follow verified approvals
only, and an unreadable record is dead-lettered before any handler sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faststream.kafka.annotations import KafkaMessage

from schemas.audit import AuditRecorded
from schemas.envelope import utcnow
from schemas.orders import Priority
from schemas.plans import Decision, PlanReleased
from schemas.topics import Topic
from services.common.codec import encode
from services.common.signing import TrustStore, trusted_key_for
from services.gate.app import build_app
from services.gate.handlers import Gate
from services.gate.settings import GateSettings
from tests import factories as f
from tests.wire import Wire


@dataclass
class Seen:
    """What the gate published, read back as any consumer would."""

    released: list[PlanReleased] = field(default_factory=list)
    audited: list[AuditRecorded] = field(default_factory=list)
    dead: list[bytes] = field(default_factory=list)

    def judged(self, plan_id: str) -> int:
        """How many decisions on the plan the gate has recorded or refused."""
        return sum(1 for entry in self.audited if entry.plan_id == plan_id)


def _gate(tmp_path: Path, key: Ed25519PrivateKey, wire: Wire) -> tuple[Gate, Seen]:
    # On Kafka each topic has its own consumer: a decision may be read before its plan.
    wait = 0.2 if wire.kind == "memory" else 10.0
    settings = GateSettings(state_dir=tmp_path, plan_wait_s=wait, **wire.settings())
    f.write_trust(f.trust({"duty-officer": key}), tmp_path)
    _, gate = build_app(settings, live=False)
    seen = Seen()

    @gate.broker.subscriber(Topic.PLANS_RELEASED.value, auto_offset_reset="earliest")
    async def capture(msg: KafkaMessage) -> None:
        seen.released.append(PlanReleased.model_validate_json(msg.body))

    @gate.broker.subscriber(Topic.AUDIT_EVENTS.value, auto_offset_reset="earliest")
    async def capture_audit(msg: KafkaMessage) -> None:
        seen.audited.append(AuditRecorded.model_validate_json(msg.body))

    @gate.broker.subscriber(Topic.PLANS_DECIDED.dlq, auto_offset_reset="earliest")
    async def capture_dead(msg: KafkaMessage) -> None:
        seen.dead.append(msg.body)

    return gate, seen


async def test_an_approved_plan_is_released_once(tmp_path, wire):
    key = Ed25519PrivateKey.generate()
    gate, seen = _gate(tmp_path, key, wire)
    plan, later = f.plan(), f.plan(priority=Priority.PRIORITY)
    decision = f.decision(plan, key)
    async with wire.running(gate.broker) as bus:
        for value, topic in (
            (plan, Topic.PLANS_PROPOSED),
            (later, Topic.PLANS_PROPOSED),
            (decision, Topic.PLANS_DECIDED),
            (decision, Topic.PLANS_DECIDED),  # a redelivered copy
            (f.decision(later, key, verdict=Decision.REJECT), Topic.PLANS_DECIDED),
        ):
            await bus.publish(encode(value), topic.value)
        # Decisions are read in order: once the last is judged, the copy was read too.
        await wire.until("the last decision judged", lambda: seen.judged(later.plan_id) == 1)
        await wire.until("the release read back", lambda: bool(seen.released))
    assert [r.plan_id for r in seen.released] == [plan.plan_id]
    assert seen.released[0].approvals[0].operator_id == "duty-officer"
    audited = [(e.kind, e.reason) for e in seen.audited if e.plan_id == plan.plan_id]
    assert audited == [("plan_released", decision.reason), ("decision_refused", "duplicate")]


async def test_rejected_unsigned_and_unknown_key_decisions_release_nothing(tmp_path, wire):
    key = Ed25519PrivateKey.generate()
    gate, seen = _gate(tmp_path, key, wire)
    plans = [f.plan(priority=p) for p in (Priority.ROUTINE, Priority.PRIORITY, Priority.URGENT)]
    decisions = [
        f.decision(plans[0], key, verdict=Decision.REJECT),
        f.decision(plans[1], None),
        f.decision(plans[2], Ed25519PrivateKey.generate()),
    ]
    async with wire.running(gate.broker) as bus:
        for plan, decision in zip(plans, decisions, strict=True):
            await bus.publish(encode(plan), Topic.PLANS_PROPOSED.value)
            await bus.publish(encode(decision), Topic.PLANS_DECIDED.value)
        await wire.until("all judged", lambda: all(seen.judged(p.plan_id) for p in plans))
    assert seen.released == []
    assert plans[0].plan_id in gate.state.rejected
    refused = {e.plan_id: e.reason for e in seen.audited if e.kind == "decision_refused"}
    assert set(refused) == {plans[1].plan_id, plans[2].plan_id}


async def test_a_malformed_decision_is_dead_lettered_and_the_gate_keeps_going(tmp_path, wire):
    key = Ed25519PrivateKey.generate()
    gate, seen = _gate(tmp_path, key, wire)
    plan = f.plan()
    async with wire.running(gate.broker) as bus:
        await bus.publish(encode(plan), Topic.PLANS_PROPOSED.value)
        await bus.publish(b'{"broken": ', Topic.PLANS_DECIDED.value)
        await bus.publish(encode(f.decision(plan, key)), Topic.PLANS_DECIDED.value)
        await wire.until("the release and the dead letter", lambda: seen.released and seen.dead)
    assert seen.dead == [b'{"broken": ']
    assert len(seen.released) == 1


async def test_pending_plans_and_the_oldest_age_are_reported(tmp_path, wire):
    key = Ed25519PrivateKey.generate()
    gate, _ = _gate(tmp_path, key, wire)
    draft = f.plan(expires_in=timedelta(days=3650))
    # Proposed a minute ago in real time, so its age is positive whatever the test clock says.
    fresh = draft.model_copy(update={"occurred_at": utcnow() - timedelta(minutes=1)})
    async with wire.running(gate.broker) as bus:
        await bus.publish(encode(fresh), Topic.PLANS_PROPOSED.value)
        await wire.until("the plan waits", lambda: gate.oldest_pending_seconds() > 0)
        await bus.publish(encode(f.decision(fresh, key)), Topic.PLANS_DECIDED.value)
        await wire.until("nothing waits", lambda: gate.oldest_pending_seconds() == 0)
    assert fresh.plan_id in gate.state.released


async def test_a_trust_store_changed_without_the_admin_signature_is_not_used(tmp_path, wire):
    key = Ed25519PrivateKey.generate()
    gate, seen = _gate(tmp_path, key, wire)
    store = TrustStore.load(gate.settings.trust_store)
    intruder = Ed25519PrivateKey.generate()
    store.add(trusted_key_for(intruder, "intruder", "x", ("approver",)))
    store.save(gate.settings.trust_store)  # added by someone without the admin key
    plan = f.plan(requested_by=("nobody",))
    async with wire.running(gate.broker) as bus:
        await bus.publish(encode(plan), Topic.PLANS_PROPOSED.value)
        await bus.publish(
            encode(f.decision(plan, intruder, operator="intruder")), Topic.PLANS_DECIDED.value
        )
        await bus.publish(encode(f.decision(plan, key)), Topic.PLANS_DECIDED.value)
        await wire.until("both decisions judged", lambda: seen.judged(plan.plan_id) >= 2)
    assert seen.released == []
    assert {e.reason for e in seen.audited} == {"untrusted_store"}


async def test_a_record_that_is_no_contract_never_reaches_a_handler(tmp_path, wire):
    """The edge decodes first: a proposal that is not a PlanProposed is dead-lettered with its
    reason and bytes, and the gate still knows only the good plan."""
    key = Ed25519PrivateKey.generate()
    gate, _ = _gate(tmp_path, key, wire)
    dead: list[tuple[bytes, dict[str, str]]] = []

    @gate.broker.subscriber(Topic.PLANS_PROPOSED.dlq, auto_offset_reset="earliest")
    async def capture_dead(msg: KafkaMessage) -> None:
        dead.append((msg.body, {k: str(v) for k, v in msg.headers.items()}))

    plan = f.plan()
    async with wire.running(gate.broker) as bus:
        await bus.publish(b"not json at all", Topic.PLANS_PROPOSED.value)
        await bus.publish(encode(plan), Topic.PLANS_PROPOSED.value)
        await wire.until("the plan known", lambda: plan.plan_id in gate.state.plans)
        await wire.until("the dead letter", lambda: bool(dead))
    assert set(gate.state.plans) == {plan.plan_id}
    ((body, headers),) = dead
    assert body == b"not json at all"
    assert headers["qm-reason"] == "invalid_json" and headers["qm-service"] == "gate"
