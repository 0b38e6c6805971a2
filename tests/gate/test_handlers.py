"""Gate handlers on the in-memory broker: releases follow verified approvals only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas.envelope import utcnow
from schemas.plans import Decision, PlanReleased
from schemas.topics import Topic
from services.common.codec import encode
from services.common.signing import TrustStore, trusted_key_for
from services.gate.app import build_app
from services.gate.settings import GateSettings
from tests import factories as f


def _gate(tmp_path: Path, key: Ed25519PrivateKey):
    settings = GateSettings(state_dir=tmp_path, plan_wait_s=0.2)
    f.write_trust(f.trust({"duty-officer": key}), tmp_path)
    _, gate = build_app(settings, live=False)
    released: list[PlanReleased] = []
    dead: list[bytes] = []

    @gate.broker.subscriber(Topic.PLANS_RELEASED.value)
    async def capture(msg: KafkaMessage) -> None:
        released.append(PlanReleased.model_validate_json(msg.body))

    @gate.broker.subscriber(Topic.PLANS_DECIDED.dlq)
    async def capture_dead(msg: KafkaMessage) -> None:
        dead.append(msg.body)

    return gate, released, dead


@pytest.mark.asyncio
async def test_an_approved_plan_is_released_once(tmp_path):
    key = Ed25519PrivateKey.generate()
    gate, released, _ = _gate(tmp_path, key)
    plan = f.plan()
    decision = f.decision(plan, key)
    async with TestKafkaBroker(gate.broker) as broker:
        await broker.publish(encode(plan), Topic.PLANS_PROPOSED.value)
        await broker.publish(encode(decision), Topic.PLANS_DECIDED.value)
        await broker.publish(encode(decision), Topic.PLANS_DECIDED.value)
    assert len(released) == 1
    assert released[0].approvals[0].operator_id == "duty-officer"


@pytest.mark.asyncio
async def test_rejected_unsigned_and_unknown_key_decisions_release_nothing(tmp_path):
    key = Ed25519PrivateKey.generate()
    gate, released, _ = _gate(tmp_path, key)
    plans = [f.plan(requested_by=(name,)) for name in ("a", "b", "c")]
    decisions = [
        f.decision(plans[0], key, verdict=Decision.REJECT),
        f.decision(plans[1], None),
        f.decision(plans[2], Ed25519PrivateKey.generate()),
    ]
    async with TestKafkaBroker(gate.broker) as broker:
        for plan, decision in zip(plans, decisions, strict=True):
            await broker.publish(encode(plan), Topic.PLANS_PROPOSED.value)
            await broker.publish(encode(decision), Topic.PLANS_DECIDED.value)
    assert released == []
    assert plans[0].plan_id in gate.state.rejected


@pytest.mark.asyncio
async def test_a_malformed_decision_is_dead_lettered_and_the_gate_keeps_going(tmp_path):
    key = Ed25519PrivateKey.generate()
    gate, released, dead = _gate(tmp_path, key)
    plan = f.plan()
    async with TestKafkaBroker(gate.broker) as broker:
        await broker.publish(encode(plan), Topic.PLANS_PROPOSED.value)
        await broker.publish(b'{"broken": ', Topic.PLANS_DECIDED.value)
        await broker.publish(encode(f.decision(plan, key)), Topic.PLANS_DECIDED.value)
    assert dead == [b'{"broken": ']
    assert len(released) == 1


@pytest.mark.asyncio
async def test_pending_plans_and_the_oldest_age_are_reported(tmp_path):
    key = Ed25519PrivateKey.generate()
    gate, _, _ = _gate(tmp_path, key)
    draft = f.plan(expires_in=timedelta(days=3650))
    # Proposed a minute ago in real time, so its age is positive whatever the test clock says.
    fresh = draft.model_copy(update={"occurred_at": utcnow() - timedelta(minutes=1)})
    async with TestKafkaBroker(gate.broker) as broker:
        await broker.publish(encode(fresh), Topic.PLANS_PROPOSED.value)
        assert gate.oldest_pending_seconds() > 0
        await broker.publish(encode(f.decision(fresh, key)), Topic.PLANS_DECIDED.value)
    assert gate.oldest_pending_seconds() == 0


@pytest.mark.asyncio
async def test_a_trust_store_changed_without_the_admin_signature_is_not_used(tmp_path):
    key = Ed25519PrivateKey.generate()
    gate, released, _ = _gate(tmp_path, key)
    store = TrustStore.load(gate.settings.trust_store)
    intruder = Ed25519PrivateKey.generate()
    store.add(trusted_key_for(intruder, "intruder", "x", ("approver",)))
    store.save(gate.settings.trust_store)  # added by someone without the admin key
    plan = f.plan(requested_by=("nobody",))
    async with TestKafkaBroker(gate.broker) as broker:
        await broker.publish(encode(plan), Topic.PLANS_PROPOSED.value)
        await broker.publish(
            encode(f.decision(plan, intruder, operator="intruder")), Topic.PLANS_DECIDED.value
        )
        await broker.publish(encode(f.decision(plan, key)), Topic.PLANS_DECIDED.value)
    assert released == []
