"""The release rules: a pure function from (state, decision, trust, now) to an outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from schemas.envelope import content_id
from schemas.orders import Priority
from schemas.plans import Approval, Decision, PlanDecided, PlanProposed, PlanReleased
from services.common.signing import TrustStore, verify_decision

APPROVING_ROLES = frozenset({"approver"})
HIGH_RISK_HANDLING = frozenset({"hazmat", "cold_chain"})


class Refusal(StrEnum):
    """Why the gate did not act on a decision."""

    UNKNOWN_PLAN = "unknown_plan"
    HASH_MISMATCH = "hash_mismatch"
    UNSIGNED = "unsigned"
    UNKNOWN_KEY = "unknown_key"
    KEY_OPERATOR_MISMATCH = "key_operator_mismatch"
    KEY_EXPIRED = "key_expired"
    ROLE_NOT_PERMITTED = "role_not_permitted"
    BAD_SIGNATURE = "bad_signature"
    DECISION_EXPIRED = "decision_expired"
    PLAN_EXPIRED = "plan_expired"
    ALREADY_RELEASED = "already_released"
    ALREADY_REJECTED = "already_rejected"
    SELF_APPROVAL = "self_approval"
    DUPLICATE = "duplicate"
    UNTRUSTED_STORE = "untrusted_store"


@dataclass
class GateState:
    """What the gate knows: proposed plans, verified approvals, final outcomes."""

    plans: dict[str, PlanProposed] = field(default_factory=dict)
    approvals: dict[str, dict[str, tuple[PlanDecided, str]]] = field(default_factory=dict)
    released: dict[str, PlanReleased] = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)

    def remember_release(self, release: PlanReleased) -> None:
        """Record a release read back from the released topic."""
        self.released[release.plan_id] = release
        self.seen.update(a.decision_id for a in release.approvals)


@dataclass(frozen=True)
class Outcome:
    """The gate's answer to one decision."""

    refusal: Refusal | None = None
    detail: str = ""
    release: PlanReleased | None = None
    rejected: bool = False
    pending: int = 0


def approvals_required(plan: PlanProposed) -> int:
    """Two distinct approvers for high-risk content, recomputed here rather than trusted."""
    stops = [stop for route in plan.routes for stop in route.stops]
    risky = any(s.priority is Priority.URGENT for s in stops) or any(
        HIGH_RISK_HANDLING.intersection(s.handling) for s in stops
    )
    return max(plan.approvals_required, 2 if risky else 1)


def _authenticate(decision: PlanDecided, trust: TrustStore, now: datetime) -> Outcome | None:
    if not decision.signature:
        return Outcome(Refusal.UNSIGNED, "decision carries no signature")
    key = trust.keys.get(decision.key_id)
    if key is None:
        return Outcome(
            Refusal.UNKNOWN_KEY, f"key {decision.key_id or '-'} is not in the trust store"
        )
    if key.operator_id != decision.operator_id:
        return Outcome(Refusal.KEY_OPERATOR_MISMATCH, f"key belongs to {key.operator_id}")
    if key.not_after is not None and key.not_after < now:
        return Outcome(Refusal.KEY_EXPIRED, f"key expired at {key.not_after.isoformat()}")
    if not verify_decision(decision, key):
        return Outcome(Refusal.BAD_SIGNATURE, "signature does not verify for this decision")
    if decision.role not in key.roles:
        return Outcome(Refusal.ROLE_NOT_PERMITTED, f"key is not trusted for role {decision.role}")
    if decision.decision is Decision.APPROVE and decision.role not in APPROVING_ROLES:
        return Outcome(Refusal.ROLE_NOT_PERMITTED, f"role {decision.role} may not approve")
    return None


def _check_plan(decision: PlanDecided, state: GateState, now: datetime) -> Outcome | None:
    plan = state.plans.get(decision.plan_id)
    if plan is None:
        return Outcome(Refusal.UNKNOWN_PLAN, f"no proposed plan {decision.plan_id}")
    if decision.plan_hash != plan.plan_hash or plan.computed_hash() != plan.plan_hash:
        return Outcome(Refusal.HASH_MISMATCH, "decision does not match the proposed plan content")
    if decision.plan_id in state.released:
        return Outcome(Refusal.ALREADY_RELEASED, "plan was already released")
    if decision.plan_id in state.rejected:
        return Outcome(Refusal.ALREADY_REJECTED, "plan was already rejected")
    if decision.expires_at < now:
        return Outcome(Refusal.DECISION_EXPIRED, f"decision expired at {decision.expires_at}")
    if plan.expires_at < now:
        return Outcome(Refusal.PLAN_EXPIRED, f"plan expired at {plan.expires_at}")
    if decision.decision is Decision.APPROVE and decision.operator_id in plan.requested_by:
        return Outcome(Refusal.SELF_APPROVAL, "an operator cannot approve their own order")
    return None


def evaluate(state: GateState, decision: PlanDecided, trust: TrustStore, now: datetime) -> Outcome:
    """Apply one decision: refuse it with a reason, record it, or release the plan."""
    if decision.message_id in state.seen:
        return Outcome(Refusal.DUPLICATE, "decision already applied")
    refused = _authenticate(decision, trust, now) or _check_plan(decision, state, now)
    if refused is not None:
        return refused
    state.seen.add(decision.message_id)
    if decision.decision is Decision.REJECT:
        state.rejected.add(decision.plan_id)
        return Outcome(rejected=True, detail=decision.reason)
    given = state.approvals.setdefault(decision.plan_id, {})
    if decision.operator_id in given or any(k == decision.key_id for _, k in given.values()):
        return Outcome(Refusal.DUPLICATE, f"{decision.operator_id} already approved this plan")
    given[decision.operator_id] = (decision, decision.key_id)
    plan = state.plans[decision.plan_id]
    needed = approvals_required(plan)
    if len(given) < needed:
        return Outcome(pending=needed - len(given), detail=f"{len(given)}/{needed} approvals")
    release = _release(plan, [d for d, _ in given.values()], now)
    state.released[plan.plan_id] = release
    return Outcome(release=release)


def _release(plan: PlanProposed, decisions: list[PlanDecided], now: datetime) -> PlanReleased:
    approvals = tuple(
        Approval(
            operator_id=d.operator_id,
            role=d.role,
            key_id=d.key_id,
            decided_at=d.decided_at,
            expires_at=d.expires_at,
            reason=d.reason,
            signature=d.signature,
            decision_id=d.message_id,
        )
        for d in sorted(decisions, key=lambda d: d.operator_id)
    )
    return PlanReleased(
        message_id=content_id("rel", plan.plan_id, plan.plan_hash),
        occurred_at=now,
        plan_id=plan.plan_id,
        plan_hash=plan.plan_hash,
        approvals=approvals,
        plan=plan,
    )
