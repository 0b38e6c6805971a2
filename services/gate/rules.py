"""The release rules: a pure function from (state, decision, trust, now) to an outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from schemas.envelope import content_id
from schemas.orders import Priority
from schemas.plans import (
    Approval,
    Decision,
    PlanDecided,
    PlanProposed,
    PlanReleased,
    superseded_plans,
)
from services.common.signing import TrustStore, check_signer

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
    SUPERSEDED = "superseded"
    ORDER_ALREADY_RELEASED = "order_already_released"
    LOCK_VIOLATED = "lock_violated"


@dataclass(frozen=True)
class Commitment:
    """A released stop: the vehicle it is committed to and its rank among that vehicle's stops."""

    plan_id: str
    vehicle_id: str
    position: int


@dataclass
class GateState:
    """What the gate knows: proposed plans, verified approvals, final outcomes."""

    plans: dict[str, PlanProposed] = field(default_factory=dict)
    approvals: dict[str, dict[str, tuple[PlanDecided, str]]] = field(default_factory=dict)
    released: dict[str, PlanReleased] = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)
    superseded_by: dict[str, str] = field(default_factory=dict)
    committed: dict[str, Commitment] = field(default_factory=dict)

    def remember_plan(self, plan: PlanProposed) -> None:
        """Record a proposal; a plan that supersedes another closes that one to decisions."""
        self.plans.setdefault(plan.plan_id, plan)
        if plan.supersedes is not None:
            self.superseded_by.setdefault(plan.supersedes, plan.plan_id)

    def remember_release(self, release: PlanReleased) -> None:
        """Record a release read back from the released topic, and the stops it commits."""
        self.released[release.plan_id] = release
        self.seen.update(a.decision_id for a in release.approvals)
        for vehicle_id, order_ids in _sequences(release.plan).items():
            for position, order_id in enumerate(order_ids):
                self.committed[order_id] = Commitment(release.plan_id, vehicle_id, position)


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
    refused = check_signer(decision, trust, now, "decision")
    if refused is not None:
        return Outcome(Refusal(refused[0]), refused[1])
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
    if decision.plan_id in state.superseded_by:
        newer = state.superseded_by[decision.plan_id]
        return Outcome(Refusal.SUPERSEDED, f"plan was superseded by {newer}; decide on that one")
    if plan.expires_at < now:
        return Outcome(Refusal.PLAN_EXPIRED, f"plan expired at {plan.expires_at}")
    if decision.decision is Decision.APPROVE and decision.operator_id in plan.requested_by:
        return Outcome(Refusal.SELF_APPROVAL, "an operator cannot approve their own order")
    if decision.decision is Decision.APPROVE:
        return _check_commitments(plan, state)
    return None


def _sequences(plan: PlanProposed) -> dict[str, list[str]]:
    """Each vehicle's orders in the sequence the plan serves them."""
    sequences: dict[str, list[str]] = {}
    for route in sorted(plan.routes, key=lambda r: r.start):
        sequences.setdefault(route.vehicle_id, []).extend(s.order_id for s in route.stops)
    return sequences


def _check_commitments(plan: PlanProposed, state: GateState) -> Outcome | None:
    """An order is released once; only a plan superseding its release may carry it, unmoved."""
    lineage = set(superseded_plans(plan, state.plans))
    served = {
        order_id: (vehicle_id, rank)
        for vehicle_id, order_ids in _sequences(plan).items()
        for rank, order_id in enumerate(order_ids)
    }
    last_position: dict[str, int] = {}  # vehicle -> released position of its previous stop
    for order_id in sorted(plan.order_ids, key=lambda o: served.get(o, ("", -1))[1]):
        held = state.committed.get(order_id)
        if held is None:
            continue
        if held.plan_id not in lineage:
            return Outcome(
                Refusal.ORDER_ALREADY_RELEASED,
                f"order {order_id} was released in {held.plan_id}, which this plan does not "
                "supersede",
            )
        vehicle_id, _ = served.get(order_id, ("", -1))
        if vehicle_id != held.vehicle_id:
            where = f"moves it to {vehicle_id}" if vehicle_id else "leaves it unserved"
            return Outcome(
                Refusal.LOCK_VIOLATED,
                f"order {order_id} is committed to {held.vehicle_id} by {held.plan_id}; "
                f"this plan {where}",
            )
        if last_position.get(vehicle_id, -1) > held.position:
            return Outcome(
                Refusal.LOCK_VIOLATED,
                f"order {order_id} is served out of its released sequence on {vehicle_id}",
            )
        last_position[vehicle_id] = held.position
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
