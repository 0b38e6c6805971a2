"""The release rules: a pure function from (state, decision, trust, now) to an outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from schemas.envelope import content_id
from schemas.fleet import VehicleReported, VehicleStatus
from schemas.orders import Priority, derives_from
from schemas.plans import (
    Approval,
    Decision,
    PlanDecided,
    PlanProposed,
    PlanReleased,
    superseded_plans,
)
from services.common.scenario import Scenario
from services.common.signing import TrustedKey, TrustStore, check_signer, normal_id
from services.common.zones import ZoneBook, crossings, vehicles_cut

APPROVING_ROLES = frozenset({"approver"})


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
    DECIDED_IN_FUTURE = "decided_in_future"
    BAD_LIFETIME = "bad_lifetime"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    SAME_PERSON = "same_person"
    CROSSES_CLOSED_AREA = "crosses_closed_area"


@dataclass(frozen=True)
class Policy:
    """What the gate holds every decision to: its own catalog and its own clock limits."""

    scenario: Scenario
    max_lifetime: timedelta = timedelta(hours=12)
    clock_skew: timedelta = timedelta(minutes=2)


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
    # Approvals given so far per plan, re-verified whenever another arrives and at release.
    approvals: dict[str, list[PlanDecided]] = field(default_factory=dict)
    released: dict[str, PlanReleased] = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)
    superseded_by: dict[str, str] = field(default_factory=dict)
    committed: dict[str, Commitment] = field(default_factory=dict)
    # The theater as the trusted reports on the compacted state topics have it.
    fleet: dict[str, VehicleReported] = field(default_factory=dict)
    zones: ZoneBook = field(default_factory=ZoneBook)

    def report_vehicle(self, vehicle_id: str, report: VehicleReported | None) -> None:
        """Fold one trusted fleet record (None: a tombstone); an older report changes nothing."""
        held = self.fleet.get(vehicle_id)
        if report is None:
            self.fleet.pop(vehicle_id, None)
        elif held is None or report.reported_at >= held.reported_at:
            self.fleet[vehicle_id] = report

    def vehicle_out(self, vehicle_id: str, now: datetime) -> bool:
        """Reported down or in maintenance, and not yet back."""
        report = self.fleet.get(vehicle_id)
        if report is None or report.status is VehicleStatus.AVAILABLE:
            return False
        return report.available_from is None or report.available_from > now

    def remember_plan(self, plan: PlanProposed) -> None:
        """Record a proposal; a plan that supersedes another closes that one to decisions."""
        self.plans.setdefault(plan.plan_id, plan)
        if plan.supersedes is not None:
            self.superseded_by.setdefault(plan.supersedes, plan.plan_id)

    def restore(self, decision: PlanDecided, kind: str) -> None:
        """Re-apply a decision the audit trail says was applied before a restart, without
        judging it now: a recorded approval is judged again, like every approval, when the next
        one for its plan arrives; a rejection closes its plan; a refusal only marks it seen."""
        self.seen.add(decision.message_id)
        if kind == "decision_recorded":
            self.approvals.setdefault(decision.plan_id, []).append(decision)
        elif kind == "plan_rejected":
            self.rejected.add(decision.plan_id)

    def remember_release(self, release: PlanReleased) -> None:
        """Record a release read back from the released topic, and the stops it commits."""
        self.released[release.plan_id] = release
        self.seen.update(a.decision_id for a in release.approvals)
        for vehicle_id, order_ids in _sequences(release.plan).items():
            for position, order_id in enumerate(order_ids):
                self.committed[order_id] = Commitment(release.plan_id, vehicle_id, position)


@dataclass(frozen=True)
class Withdrawn:
    """An approval given earlier that no longer counts, and why (audited under its own id)."""

    decision: PlanDecided
    refusal: Refusal
    detail: str


@dataclass(frozen=True)
class Outcome:
    """The gate's answer to one decision."""

    refusal: Refusal | None = None
    detail: str = ""
    release: PlanReleased | None = None
    rejected: bool = False
    pending: int = 0
    withdrawn: tuple[Withdrawn, ...] = ()


def verified_submitters(plan: PlanProposed, trust: TrustStore, now: datetime) -> dict[str, str]:
    """order id -> operator id, for the orders whose sender's signature verifies now with a
    trusted key of that sender. Nothing else in the plan says who asked."""
    return {
        signed.order_id: signed.claim.operator_id
        for signed in plan.submitters
        if signed.order_id in plan.order_ids
        and derives_from(signed.order_id, signed.claim.order_id)
        and check_signer(signed.claim, trust, now, "order") is None
    }


def risk_reasons(
    plan: PlanProposed, scenario: Scenario, trust: TrustStore, now: datetime
) -> tuple[str, ...]:
    """Why the plan needs two distinct people, recomputed by the gate: items from its own
    catalog by SKU, urgent stops, and any served order whose sender is not authenticated."""
    stops = [stop for route in plan.routes for stop in route.stops]
    reasons = list(scenario.two_person_reasons(line.sku for s in stops for line in s.lines))
    if any(s.priority is Priority.URGENT for s in stops):
        reasons.append("urgent")
    authenticated = verified_submitters(plan, trust, now)
    if any(s.order_id not in authenticated for s in stops):
        reasons.append("unauthenticated_submitter")
    return tuple(reasons)


def approvals_required(
    plan: PlanProposed, scenario: Scenario, trust: TrustStore, now: datetime
) -> int:
    """Two distinct persons for risky content; what the planner declares can only add."""
    return _needed(plan, risk_reasons(plan, scenario, trust, now))


def _needed(plan: PlanProposed, reasons: tuple[str, ...]) -> int:
    return max(plan.approvals_required, 2 if reasons else 1)


def _authenticate(
    decision: PlanDecided, trust: TrustStore, now: datetime, policy: Policy
) -> Outcome | None:
    refused = check_signer(decision, trust, now, "decision")
    if refused is not None:
        return Outcome(Refusal(refused[0]), refused[1])
    if decision.decision is Decision.APPROVE and decision.role not in APPROVING_ROLES:
        return Outcome(Refusal.ROLE_NOT_PERMITTED, f"role {decision.role} may not approve")
    return _check_times(decision, now, policy)


def _check_times(decision: PlanDecided, now: datetime, policy: Policy) -> Outcome | None:
    """A decision is made now (within the clock skew), ends after it is made, lives no longer
    than the gate allows, and has not ended."""
    if decision.decided_at > now + policy.clock_skew:
        return Outcome(
            Refusal.DECIDED_IN_FUTURE,
            f"decided_at {decision.decided_at.isoformat()} is ahead of the gate's clock",
        )
    if decision.expires_at <= decision.decided_at:
        return Outcome(Refusal.BAD_LIFETIME, "expires_at is not after decided_at")
    if decision.expires_at - decision.decided_at > policy.max_lifetime:
        hours = policy.max_lifetime.total_seconds() / 3600
        return Outcome(Refusal.LIFETIME_TOO_LONG, f"a decision may live at most {hours:g} h")
    if decision.expires_at < now:
        return Outcome(Refusal.DECISION_EXPIRED, f"decision expired at {decision.expires_at}")
    return None


def person_of(key: TrustedKey) -> str:
    """Who holds a key, as the quorum counts people: the normalised name, else the id."""
    return normal_id(key.name) if key.name.strip() else normal_id(key.operator_id)


def _is_self_approval(
    decision: PlanDecided, plan: PlanProposed, trust: TrustStore, now: datetime
) -> bool:
    """The approver sent one of the plan's orders: by a verified signature (compared as
    persons), or by a typed name that matches once normalised (which can only block)."""
    approver = trust.keys[decision.key_id]
    me = {normal_id(decision.operator_id), person_of(approver)}
    typed = {normal_id(name) for name in plan.requested_by}
    senders = set(verified_submitters(plan, trust, now).values())
    signed = {normal_id(s) for s in senders}
    signed |= {person_of(k) for k in trust.keys.values() if k.operator_id in senders}
    return bool(me & (typed | signed))


def _check_plan(
    decision: PlanDecided, state: GateState, trust: TrustStore, now: datetime, scenario: Scenario
) -> Outcome | None:
    plan = state.plans.get(decision.plan_id)
    if plan is None:
        return Outcome(Refusal.UNKNOWN_PLAN, f"no proposed plan {decision.plan_id}")
    if decision.plan_hash != plan.plan_hash or plan.computed_hash() != plan.plan_hash:
        return Outcome(Refusal.HASH_MISMATCH, "decision does not match the proposed plan content")
    if decision.plan_id in state.released:
        return Outcome(Refusal.ALREADY_RELEASED, "plan was already released")
    if decision.plan_id in state.rejected:
        return Outcome(Refusal.ALREADY_REJECTED, "plan was already rejected")
    if decision.plan_id in state.superseded_by:
        newer = state.superseded_by[decision.plan_id]
        return Outcome(Refusal.SUPERSEDED, f"plan was superseded by {newer}; decide on that one")
    if plan.expires_at < now:
        return Outcome(Refusal.PLAN_EXPIRED, f"plan expired at {plan.expires_at}")
    if decision.decision is Decision.APPROVE and _is_self_approval(decision, plan, trust, now):
        return Outcome(Refusal.SELF_APPROVAL, "an operator cannot approve their own order")
    if decision.decision is Decision.APPROVE:
        return _check_zones(plan, state, scenario) or _check_commitments(plan, state, scenario, now)
    return None


def _check_zones(plan: PlanProposed, state: GateState, scenario: Scenario) -> Outcome | None:
    """The gate's own re-check: no leg of the plan crosses a closed area while it is closed."""
    found = crossings(plan, scenario, state.zones.zones.values())
    if not found:
        return None
    leg, zone = found[0]
    checked = f"; the plan was checked against {plan.zones or 'no zones'}, the gate holds " + (
        state.zones.version
    )
    return Outcome(
        Refusal.CROSSES_CLOSED_AREA,
        f"{leg.vehicle_id} drives {leg.origin}→{leg.to} across closed area {zone.zone_id} "
        f"({zone.reason or 'no reason given'}) at {leg.leaves:%F %H:%MZ}{checked}",
    )


def _freed(state: GateState, scenario: Scenario, now: datetime) -> set[tuple[str, str]]:
    """(released plan, vehicle) whose commitments no longer bind: the vehicle is out, or a zone
    closed since cuts what is left of its route. The planner frees the same stops."""
    freed: set[tuple[str, str]] = set()
    for plan_id in {held.plan_id for held in state.committed.values()}:
        released = state.plans.get(plan_id)
        if released is None:
            continue
        cut = vehicles_cut(released, scenario, state.zones.zones.values(), now)
        for route in released.routes:
            if route.vehicle_id in cut or state.vehicle_out(route.vehicle_id, now):
                freed.add((plan_id, route.vehicle_id))
    return freed


def _sequences(plan: PlanProposed) -> dict[str, list[str]]:
    """Each vehicle's orders in the sequence the plan serves them."""
    sequences: dict[str, list[str]] = {}
    for route in sorted(plan.routes, key=lambda r: r.start):
        sequences.setdefault(route.vehicle_id, []).extend(s.order_id for s in route.stops)
    return sequences


def _check_commitments(
    plan: PlanProposed, state: GateState, scenario: Scenario, now: datetime
) -> Outcome | None:
    """An order is released once; only a plan superseding its release may carry it, unmoved,
    unless its vehicle is out or a closed area cuts its route: then it may move."""
    lineage = set(superseded_plans(plan, state.plans))
    freed = _freed(state, scenario, now)
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
        if (held.plan_id, held.vehicle_id) in freed:
            continue
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


def evaluate(
    state: GateState, decision: PlanDecided, trust: TrustStore, now: datetime, policy: Policy
) -> Outcome:
    """Apply one decision: refuse it with a reason, record it, or release the plan."""
    if decision.message_id in state.seen:
        return Outcome(Refusal.DUPLICATE, "decision already applied")
    refused = _authenticate(decision, trust, now, policy) or _check_plan(
        decision, state, trust, now, policy.scenario
    )
    if refused is not None:
        return refused
    state.seen.add(decision.message_id)
    if decision.decision is Decision.REJECT:
        state.rejected.add(decision.plan_id)
        return Outcome(rejected=True, detail=decision.reason)
    plan = state.plans[decision.plan_id]
    valid, withdrawn = _reverify(state.approvals.get(plan.plan_id, []), trust, now, policy)
    state.approvals[plan.plan_id] = valid
    repeated = _repeats(decision, valid, trust)
    if repeated is not None:
        return Outcome(repeated[0], repeated[1], withdrawn=withdrawn)
    valid.append(decision)
    reasons = risk_reasons(plan, policy.scenario, trust, now)
    needed = _needed(plan, reasons)
    if len(valid) < needed:
        why = ", ".join(reasons) or "the planner asks"
        return Outcome(
            pending=needed - len(valid),
            detail=f"{len(valid)}/{needed} approvals; two people because: {why}",
            withdrawn=withdrawn,
        )
    release = _release(plan, valid, now)
    state.released[plan.plan_id] = release
    return Outcome(release=release, withdrawn=withdrawn)


def _reverify(
    given: list[PlanDecided], trust: TrustStore, now: datetime, policy: Policy
) -> tuple[list[PlanDecided], tuple[Withdrawn, ...]]:
    """Approvals given earlier, checked again against today's trust store and clock: a key
    removed or expired since, or an approval that has run out, no longer counts."""
    valid: list[PlanDecided] = []
    withdrawn: list[Withdrawn] = []
    for earlier in given:
        refused = _authenticate(earlier, trust, now, policy)
        if refused is None:
            valid.append(earlier)
        else:
            assert refused.refusal is not None
            withdrawn.append(Withdrawn(earlier, refused.refusal, refused.detail))
    return valid, tuple(withdrawn)


def _repeats(
    decision: PlanDecided, given: list[PlanDecided], trust: TrustStore
) -> tuple[Refusal, str] | None:
    """The quorum counts distinct people and distinct public keys, not labels."""
    key = trust.keys[decision.key_id]
    for earlier in given:
        other = trust.keys[earlier.key_id]
        if normal_id(earlier.operator_id) == normal_id(decision.operator_id):
            return Refusal.DUPLICATE, f"{decision.operator_id} already approved this plan"
        if other.public_key == key.public_key:
            return Refusal.DUPLICATE, f"this key already approved as {earlier.operator_id}"
        if person_of(other) == person_of(key):
            return (
                Refusal.SAME_PERSON,
                f"{decision.operator_id} is the same person as {earlier.operator_id}",
            )
    return None


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
