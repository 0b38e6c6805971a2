"""What the gate knows after a restart, folded from its topics without a broker."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel

from schemas.topics import Topic
from services.common.audit import ChainHead, append
from services.common.codec import encode
from services.gate.history import fold
from services.gate.rules import GateState, Refusal, evaluate
from tests import factories as f


def _record(topic: str, message: BaseModel | bytes, headers: tuple[Any, ...] = ()) -> Any:
    value = message if isinstance(message, bytes) else encode(message)
    return SimpleNamespace(topic=topic, value=value, headers=headers)


def test_a_restart_restores_plans_releases_the_chain_head_and_what_was_judged():
    keys = {"duty-officer": Ed25519PrivateKey.generate()}
    plan, other = f.plan(), f.plan(sku="AMMO-556")
    release = evaluate(
        GateState(plans={plan.plan_id: plan}),
        f.decision(plan, keys["duty-officer"]),
        f.trust(keys),
        f.NOW,
        f.POLICY,
    ).release
    assert release is not None
    head = ChainHead()
    recorded = append(head, "decision_recorded", other.plan_id, f.NOW, source="d/0/1")
    withdrawn = append(head, "decision_refused", other.plan_id, f.NOW, source="d/0/1")
    dead = (("qm-source-topic", b"plans.decided.v1"), ("qm-partition", b"0"), ("qm-offset", b"7"))
    history = fold(
        [
            _record(Topic.PLANS_PROPOSED.value, plan),
            _record(Topic.PLANS_PROPOSED.value, other),
            _record(Topic.PLANS_PROPOSED.value, b"{not json"),
            _record(Topic.PLANS_RELEASED.value, release),
            _record(Topic.AUDIT_EVENTS.value, recorded),
            _record(Topic.AUDIT_EVENTS.value, withdrawn),
            _record(Topic.PLANS_DECIDED.dlq, b"poison", dead),
        ],
        1 << 20,
    )
    assert set(history.state.plans) == {plan.plan_id, other.plan_id}
    assert set(history.state.released) == {plan.plan_id}
    assert history.head == ChainHead(2, withdrawn.entry_hash)
    # The approval was recorded, then withdrawn: the last entry decides how it is restored.
    assert history.audited == {"d/0/1": "decision_refused"}
    assert history.dead_lettered == {"plans.decided.v1/0/7"}


def test_restored_approvals_are_judged_again_and_a_refusal_restores_nothing():
    keys = {n: Ed25519PrivateKey.generate() for n in ("duty-officer", "second-officer")}
    plan = f.plan(sku="AMMO-556")
    state = GateState(plans={plan.plan_id: plan})
    first = f.decision(plan, keys["duty-officer"])
    refused = f.decision(plan, keys["second-officer"], operator="second-officer")
    state.restore(first, "decision_recorded")
    state.restore(refused, "decision_refused")
    assert state.approvals[plan.plan_id] == [first] and refused.message_id in state.seen
    # duty-officer's key is gone from today's store: the restored approval no longer counts.
    today = f.trust({"second-officer": keys["second-officer"]})
    late = f.decision(plan, keys["second-officer"], operator="second-officer", at=f.NOW)
    late = late.model_copy(update={"message_id": "another-record"})
    outcome = evaluate(state, late, today, f.NOW, f.POLICY)
    assert outcome.release is None
    assert [w.refusal for w in outcome.withdrawn] == [Refusal.UNKNOWN_KEY]
