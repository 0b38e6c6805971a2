"""Security suite against the running gate on the real broker.

Hundreds of forged, tampered, replayed, expired, wrong-role, self-approval and single-key
double-signature decisions: each is refused with the right reason code (read back from the audit
trail) and none releases anything; every honest decision releases its plan exactly once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.audit import AuditRecorded
from schemas.envelope import content_id, utcnow
from schemas.plans import PlanDecided, PlanProposed, PlanReleased
from schemas.topics import Topic
from services.cli.publishing import send_many
from services.common.audit import first_broken_link
from services.common.codec import decode
from services.common.kafka import read_topics
from services.common.settings import CommonSettings
from services.common.signing import TrustStore, load_private, sign_decision, trusted_key_for
from services.gate.rules import Refusal
from tests import factories as f
from tests.e2e.conftest import Stack, wait_for

pytestmark = pytest.mark.kafka
ROUTINE_PLANS = 24
RISKY_PLANS = 5


def _unique(plan: PlanProposed, n: int, **update: object) -> PlanProposed:
    draft = plan.model_copy(
        update={"plan_id": content_id("plan", "sec", n, utcnow().isoformat()), **update}
    )
    return draft.model_copy(update={"plan_hash": draft.computed_hash()})


def _decide(
    plan: PlanProposed, key: Ed25519PrivateKey | None, operator: str, tag: str, **update: object
) -> PlanDecided:
    now = utcnow()
    fields: dict[str, object] = {
        "message_id": content_id("dec", plan.plan_id, tag),
        "occurred_at": now,
        "plan_id": plan.plan_id,
        "plan_hash": plan.plan_hash,
        "decision": "approve",
        "operator_id": operator,
        "role": "approver",
        "reason": tag,
        "decided_at": now,
        "expires_at": now + timedelta(hours=1),
        **update,
    }
    unsigned = PlanDecided.model_validate(fields)
    return sign_decision(unsigned, key) if key else unsigned


class Keys:
    """The operators of the suite: two approvers, an observer, and a stranger nobody trusts."""

    def __init__(self, state: Path) -> None:
        self.duty = load_private(state / "keys" / "duty-officer.pem")
        self.second = load_private(state / "keys" / "second-officer.pem")
        self.observer = Ed25519PrivateKey.generate()
        self.stranger = Ed25519PrivateKey.generate()
        store = TrustStore.load(state / "trust" / "operators.json")
        store.add(trusted_key_for(self.observer, "observer", "Observer", ("observer",)))
        store.sign(load_private(state / "keys" / "admin.pem"))
        store.save(state / "trust" / "operators.json")


def _attacks(plan: PlanProposed, keys: Keys) -> list[tuple[PlanDecided, Refusal]]:
    """Every way to try to release one routine plan without an honest approval."""
    honest = _decide(plan, keys.duty, "duty-officer", "template")
    return [
        (_decide(plan, None, "duty-officer", "unsigned"), Refusal.UNSIGNED),
        (
            honest.model_copy(
                update={"reason": "edited", "message_id": content_id("t", plan.plan_id)}
            ),
            Refusal.BAD_SIGNATURE,
        ),
        (
            _decide(plan, keys.duty, "duty-officer", "wrong-hash", plan_hash="e" * 64),
            Refusal.HASH_MISMATCH,
        ),
        (_decide(plan, keys.stranger, "duty-officer", "stranger"), Refusal.UNKNOWN_KEY),
        (_decide(plan, keys.duty, "second-officer", "borrowed-key"), Refusal.KEY_OPERATOR_MISMATCH),
        (
            _decide(plan, keys.observer, "observer", "observer", role="observer"),
            Refusal.ROLE_NOT_PERMITTED,
        ),
        (_decide(plan, keys.observer, "observer", "claims-role"), Refusal.ROLE_NOT_PERMITTED),
        (
            _decide(
                plan,
                keys.duty,
                "duty-officer",
                "expired",
                decided_at=utcnow() - timedelta(hours=2),
                expires_at=utcnow() - timedelta(hours=1),
            ),
            Refusal.DECISION_EXPIRED,
        ),
    ]


def _audit(bootstrap: str) -> list[AuditRecorded]:
    records = asyncio.run(read_topics(bootstrap, [Topic.AUDIT_EVENTS.value]))
    return [
        decode(AuditRecorded, r.value, 1 << 20) for r in sorted(records, key=lambda r: r.offset)
    ]


def _releases(bootstrap: str) -> list[PlanReleased]:
    records = asyncio.run(read_topics(bootstrap, [Topic.PLANS_RELEASED.value]))
    return [decode(PlanReleased, r.value, 1 << 20) for r in records]


def test_the_gate_refuses_every_attack_and_releases_every_honest_plan_once(stack: Stack):
    bootstrap = stack.env["KAFKA_BOOTSTRAP"]
    keys = Keys(Path(stack.env["QM_STATE_DIR"]))
    stack.start("gate", QM_GATE_PLAN_WAIT_S="0.5")
    routine = [_unique(f.plan(), n) for n in range(ROUTINE_PLANS)]
    risky = [_unique(f.plan(handling=("hazmat",)), 100 + n) for n in range(RISKY_PLANS)]
    own = _unique(f.plan(requested_by=("duty-officer",)), 200)
    stale = _unique(f.plan(), 201, expires_at=utcnow() - timedelta(minutes=1))
    unknown = _unique(f.plan(), 202)  # never proposed

    expected: dict[str, Refusal] = {}
    decisions: list[PlanDecided] = []
    honest: list[PlanDecided] = []
    for plan in routine:
        for decision, reason in _attacks(plan, keys):
            decisions.append(decision)
            expected[decision.message_id] = reason
        approval = _decide(plan, keys.duty, "duty-officer", "honest")
        honest.append(approval)
    for plan in risky:
        first = _decide(plan, keys.duty, "duty-officer", "first")
        twice = _decide(plan, keys.duty, "duty-officer", "same-key-again")
        decisions += [first, twice]
        expected[twice.message_id] = Refusal.DUPLICATE
        honest.append(_decide(plan, keys.second, "second-officer", "second"))
    for plan, reason in (
        (own, Refusal.SELF_APPROVAL),
        (stale, Refusal.PLAN_EXPIRED),
        (unknown, Refusal.UNKNOWN_PLAN),
    ):
        attempt = _decide(plan, keys.duty, "duty-officer", "edge")
        decisions.append(attempt)
        expected[attempt.message_id] = reason
    replays = [
        d.model_copy(update={"message_id": content_id("replay", d.message_id)}) for d in honest[:10]
    ]
    for replay in replays:
        expected[replay.message_id] = Refusal.ALREADY_RELEASED
    assert len(expected) >= 200

    settings = CommonSettings(kafka_bootstrap=bootstrap)
    proposals = [*routine, *risky, own, stale]
    asyncio.run(send_many(settings, Topic.PLANS_PROPOSED, [(p, p.plan_id) for p in proposals]))
    asyncio.run(
        send_many(
            settings, Topic.PLANS_DECIDED, [(d, d.plan_id) for d in [*decisions, *honest, *replays]]
        )
    )

    ids = set(expected) | {d.message_id for d in honest}

    def complete() -> list[AuditRecorded] | None:
        trail = _audit(bootstrap)
        return trail if {e.decision_id for e in trail} >= ids else None

    trail = wait_for("every decision in the audit trail", complete, 180, stack.logs)
    assert first_broken_link(trail) is None
    outcome = {e.decision_id: e for e in trail if e.decision_id in ids}
    wrong = {
        d: (outcome[d].reason, r.value)
        for d, r in expected.items()
        if outcome[d].kind != "decision_refused" or outcome[d].reason != r.value
    }
    assert wrong == {}, f"{len(wrong)} attacks not refused for the right reason: {wrong}"
    assert all(outcome[d.message_id].kind == "plan_released" for d in honest)

    released = Counter(
        r.plan_id
        for r in _releases(bootstrap)
        if r.plan_id in {p.plan_id for p in [*proposals, unknown]}
    )
    assert released == Counter({p.plan_id: 1 for p in [*routine, *risky]})
    assert stack.alive() == {"gate": True}
