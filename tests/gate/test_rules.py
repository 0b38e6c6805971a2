"""The release rules: only a verified, trusted, in-date human approval releases a plan."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.orders import Priority
from schemas.plans import Decision, PlanProposed
from services.common.signing import sign_decision, verify_approval
from services.gate.rules import GateState, Refusal, evaluate, risk_reasons, verified_submitters
from tests import factories as f


@pytest.fixture
def keys() -> dict[str, Ed25519PrivateKey]:
    return {name: Ed25519PrivateKey.generate() for name in ("duty-officer", "second-officer")}


def _rehash(plan: PlanProposed, **update: object) -> PlanProposed:
    draft = plan.model_copy(update=update)
    return draft.model_copy(update={"plan_hash": draft.computed_hash()})


def _state(*plans: object) -> GateState:
    state = GateState()
    for p in plans:
        state.plans[p.plan_id] = p  # type: ignore[attr-defined]
    return state


def test_a_valid_approval_releases_with_the_approvers_identity(keys):
    plan = f.plan()
    decision = f.decision(plan, keys["duty-officer"])
    outcome = evaluate(_state(plan), decision, f.trust(keys), f.NOW, f.POLICY)
    assert outcome.refusal is None and outcome.release is not None
    approval = outcome.release.approvals[0]
    assert approval.operator_id == "duty-officer"
    assert approval.signature == decision.signature
    assert outcome.release.plan_hash == plan.plan_hash
    trusted = f.trust(keys).keys[approval.key_id]
    assert verify_approval(outcome.release, approval, trusted)
    forged = approval.model_copy(update={"reason": "edited after release"})
    assert not verify_approval(outcome.release, forged, trusted)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d, k: d.model_copy(update={"signature": ""}), Refusal.UNSIGNED),
        (lambda d, k: d.model_copy(update={"reason": "tampered"}), Refusal.BAD_SIGNATURE),
        (lambda d, k: d.model_copy(update={"plan_hash": "f" * 64}), Refusal.BAD_SIGNATURE),
        (lambda d, k: d.model_copy(update={"key_id": "ed25519:unknown"}), Refusal.UNKNOWN_KEY),
        (
            lambda d, k: d.model_copy(update={"operator_id": "second-officer"}),
            Refusal.KEY_OPERATOR_MISMATCH,
        ),
    ],
)
def test_forged_or_tampered_decisions_are_refused(keys, mutate, reason):
    plan = f.plan()
    decision = mutate(f.decision(plan, keys["duty-officer"]), keys)
    outcome = evaluate(_state(plan), decision, f.trust(keys), f.NOW, f.POLICY)
    assert outcome.refusal is reason and outcome.release is None


def test_a_key_outside_the_trust_store_is_refused(keys):
    plan = f.plan()
    stranger = Ed25519PrivateKey.generate()
    outcome = evaluate(_state(plan), f.decision(plan, stranger), f.trust(keys), f.NOW, f.POLICY)
    assert outcome.refusal is Refusal.UNKNOWN_KEY


def test_a_decision_for_a_changed_plan_is_refused(keys):
    plan = f.plan()
    decision = f.decision(plan, keys["duty-officer"])
    other = f.plan(priority=Priority.PRIORITY)
    changed = other.model_copy(update={"plan_id": plan.plan_id})
    outcome = evaluate(_state(changed), decision, f.trust(keys), f.NOW, f.POLICY)
    assert outcome.refusal is Refusal.HASH_MISMATCH


def test_an_unknown_plan_is_refused(keys):
    plan = f.plan()
    outcome = evaluate(
        GateState(), f.decision(plan, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY
    )
    assert outcome.refusal is Refusal.UNKNOWN_PLAN


def test_expired_key_decision_and_plan_are_refused(keys):
    plan = f.plan(expires_in=timedelta(minutes=5))
    decision = f.decision(plan, keys["duty-officer"])
    expired_trust = f.trust(keys, not_after=f.NOW - timedelta(seconds=1))
    assert (
        evaluate(_state(plan), decision, expired_trust, f.NOW, f.POLICY).refusal
        is Refusal.KEY_EXPIRED
    )
    later = f.NOW + timedelta(hours=2)
    assert (
        evaluate(_state(plan), decision, f.trust(keys), later, f.POLICY).refusal
        is Refusal.DECISION_EXPIRED
    )
    fresh = f.decision(plan, keys["duty-officer"], at=f.NOW + timedelta(minutes=10))
    assert (
        evaluate(
            _state(plan), fresh, f.trust(keys), f.NOW + timedelta(minutes=10), f.POLICY
        ).refusal
        is Refusal.PLAN_EXPIRED
    )


def test_a_non_approver_role_cannot_approve(keys):
    plan = f.plan()
    observer_trust = f.trust(keys, roles=("observer",))
    decision = f.decision(plan, keys["duty-officer"], role="observer")
    assert (
        evaluate(_state(plan), decision, observer_trust, f.NOW, f.POLICY).refusal
        is Refusal.ROLE_NOT_PERMITTED
    )
    claims_more = f.decision(plan, keys["duty-officer"], role="approver")
    assert (
        evaluate(_state(plan), claims_more, observer_trust, f.NOW, f.POLICY).refusal
        is Refusal.ROLE_NOT_PERMITTED
    )


def test_nobody_approves_a_plan_with_their_own_order(keys):
    plan = f.plan(requested_by=("duty-officer",))
    outcome = evaluate(
        _state(plan), f.decision(plan, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY
    )
    assert outcome.refusal is Refusal.SELF_APPROVAL


def test_a_rejection_releases_nothing_and_closes_the_plan(keys):
    plan = f.plan()
    state = _state(plan)
    rejection = f.decision(plan, keys["duty-officer"], verdict=Decision.REJECT)
    assert evaluate(state, rejection, f.trust(keys), f.NOW, f.POLICY).rejected
    late = f.decision(plan, keys["second-officer"], operator="second-officer")
    outcome = evaluate(state, late, f.trust(keys), f.NOW, f.POLICY)
    assert outcome.refusal is Refusal.ALREADY_REJECTED and outcome.release is None


@pytest.mark.parametrize(
    "risky",
    [
        {"priority": Priority.URGENT},
        {"sku": "AMMO-556"},
        {"sku": "BLOOD-UNIT"},
        {"sku": "DIESEL-GAL"},
        {"sku": "NOT-IN-THE-CATALOG"},
        {"signed": False},
    ],
)
def test_high_risk_plans_need_two_distinct_operators(keys, risky):
    plan = f.plan(**risky)
    state = _state(plan)
    first = evaluate(state, f.decision(plan, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY)
    assert first.release is None and first.pending == 1
    again = f.decision(plan, keys["duty-officer"], at=f.NOW + timedelta(seconds=5))
    assert evaluate(state, again, f.trust(keys), f.NOW, f.POLICY).refusal is Refusal.DUPLICATE
    second = f.decision(plan, keys["second-officer"], operator="second-officer")
    outcome = evaluate(state, second, f.trust(keys), f.NOW, f.POLICY)
    assert outcome.release is not None
    assert {a.operator_id for a in outcome.release.approvals} == {"duty-officer", "second-officer"}


def test_a_replayed_decision_changes_nothing(keys):
    plan = f.plan()
    state = _state(plan)
    decision = f.decision(plan, keys["duty-officer"])
    assert evaluate(state, decision, f.trust(keys), f.NOW, f.POLICY).release is not None
    replay = evaluate(state, decision, f.trust(keys), f.NOW, f.POLICY)
    assert replay.refusal is Refusal.DUPLICATE and replay.release is None


def _propose(state: GateState, *plans: PlanProposed) -> None:
    for plan in plans:
        state.remember_plan(plan)


def _release(state: GateState, plan: PlanProposed, keys: dict[str, Ed25519PrivateKey]) -> None:
    outcome = evaluate(
        state, f.decision(plan, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY
    )
    assert outcome.release is not None, outcome
    state.remember_release(outcome.release)


def test_a_superseded_plan_can_no_longer_be_decided(keys):
    old = f.routed_plan({"TRK-1": ("a", "b")}, tag="old")
    new = f.routed_plan({"TRK-1": ("a", "b", "c")}, supersedes=old.plan_id, tag="new")
    state = GateState()
    _propose(state, old)
    assert evaluate(
        state, f.decision(old, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY
    ).release
    state = GateState()
    _propose(state, old, new)
    for verdict in Decision:
        stale = f.decision(old, keys["duty-officer"], verdict=verdict)
        outcome = evaluate(state, stale, f.trust(keys), f.NOW, f.POLICY)
        assert outcome.refusal is Refusal.SUPERSEDED and new.plan_id in outcome.detail
    assert evaluate(
        state, f.decision(new, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY
    ).release


def test_released_orders_are_released_once_unless_a_superseding_plan_keeps_them_locked(keys):
    first = f.routed_plan({"TRK-1": ("a", "b"), "TRK-2": ("c",)}, tag="first")
    state = GateState()
    _propose(state, first)
    _release(state, first, keys)
    stranger = f.routed_plan({"TRK-1": ("a", "d")}, tag="stranger")
    kept = f.routed_plan(
        {"TRK-1": ("a", "d", "b"), "TRK-2": ("c", "e")}, supersedes=first.plan_id, tag="kept"
    )
    moved = f.routed_plan(
        {"TRK-1": ("a",), "TRK-2": ("b", "c")}, supersedes=first.plan_id, tag="moved"
    )
    swapped = f.routed_plan(
        {"TRK-1": ("b", "a"), "TRK-2": ("c",)}, supersedes=first.plan_id, tag="swapped"
    )
    dropped = f.routed_plan(
        {"TRK-1": ("a", "b")}, supersedes=first.plan_id, unserved=("c",), tag="dropped"
    )
    expected = {
        stranger.plan_id: Refusal.ORDER_ALREADY_RELEASED,
        moved.plan_id: Refusal.LOCK_VIOLATED,
        swapped.plan_id: Refusal.LOCK_VIOLATED,
        dropped.plan_id: Refusal.LOCK_VIOLATED,
    }
    for plan in (stranger, moved, swapped, dropped):
        fresh = GateState(plans=dict(state.plans), committed=dict(state.committed))
        _propose(fresh, plan)
        outcome = evaluate(
            fresh, f.decision(plan, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY
        )
        assert outcome.refusal is expected[plan.plan_id], (plan.plan_id, outcome)
    _propose(state, kept)
    outcome = evaluate(
        state, f.decision(kept, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY
    )
    assert outcome.release is not None and outcome.release.plan.supersedes == first.plan_id


def test_a_revision_of_a_revision_may_carry_stops_released_two_plans_back(keys):
    first = f.routed_plan({"TRK-1": ("a",)}, tag="1")
    second = f.routed_plan({"TRK-1": ("a", "b")}, supersedes=first.plan_id, tag="2")
    third = f.routed_plan({"TRK-1": ("a", "b", "c")}, supersedes=second.plan_id, tag="3")
    state = GateState()
    _propose(state, first)
    _release(state, first, keys)
    _propose(state, second, third)
    outcome = evaluate(
        state, f.decision(third, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY
    )
    assert outcome.release is not None


def _approve(state: GateState, plan: PlanProposed, key, operator: str, trust, at=f.NOW):
    return evaluate(state, f.decision(plan, key, operator=operator, at=at), trust, at, f.POLICY)


@pytest.mark.parametrize(
    ("update", "reason"),
    [
        ({"decided_at": f.NOW + timedelta(hours=1)}, Refusal.DECIDED_IN_FUTURE),
        ({"expires_at": f.NOW}, Refusal.BAD_LIFETIME),
        ({"expires_at": f.NOW - timedelta(hours=1)}, Refusal.BAD_LIFETIME),
        ({"expires_at": f.NOW + timedelta(days=365)}, Refusal.LIFETIME_TOO_LONG),
    ],
)
def test_a_decision_lives_only_as_long_as_the_gate_allows(keys, update, reason):
    plan = f.plan()
    unsigned = f.decision(plan, None).model_copy(update=update)
    decision = sign_decision(unsigned, keys["duty-officer"])
    outcome = evaluate(_state(plan), decision, f.trust(keys), f.NOW, f.POLICY)
    assert outcome.refusal is reason and outcome.release is None


@pytest.mark.parametrize("typed", ["DUTY-OFFICER", "duty\u2010officer", "duty-of\u200bficer "])
def test_self_approval_is_caught_however_the_name_is_typed(keys, typed):
    plan = f.plan(requested_by=(typed,))
    outcome = _approve(_state(plan), plan, keys["duty-officer"], "duty-officer", f.trust(keys))
    assert outcome.refusal is Refusal.SELF_APPROVAL


def test_a_signed_order_is_its_senders_even_when_no_name_is_typed(keys):
    own = f.submitter("ord-1", keys["duty-officer"], "duty-officer", role="approver")
    plan = f.plan(requested_by=())
    plan = _rehash(plan, submitters=(f.signed_order("ord-1", own),))
    trust = f.trust(keys)
    outcome = _approve(_state(plan), plan, keys["duty-officer"], "duty-officer", trust)
    assert outcome.refusal is Refusal.SELF_APPROVAL


def test_an_order_without_a_valid_senders_signature_needs_two_people(keys):
    stranger = Ed25519PrivateKey.generate()
    forged = f.submitter("ord-1", stranger)  # claims s4-clerk, signed by nobody trusted
    moved = f.submitter("ord-other")  # a real signature, for another order
    for claims in [(forged,), (moved,), ()]:
        signed = tuple(f.signed_order("ord-1", claim) for claim in claims)
        plan = _rehash(f.plan(requested_by=()), submitters=signed)
        trust = f.trust(keys)
        assert "unauthenticated_submitter" in risk_reasons(plan, f.SCENARIO, trust, f.NOW)
        first = _approve(_state(plan), plan, keys["duty-officer"], "duty-officer", trust)
        assert first.release is None and first.pending == 1


def test_risk_comes_from_the_catalog_not_from_what_the_plan_declares(keys):
    plan = f.plan(sku="AMMO-556", handling=())
    assert plan.approvals_required == 1 and plan.risk == ()
    outcome = _approve(_state(plan), plan, keys["duty-officer"], "duty-officer", f.trust(keys))
    assert outcome.release is None and outcome.pending == 1


def test_earlier_approvals_are_judged_again_when_the_quorum_completes(keys):
    plan = f.plan(sku="AMMO-556")
    trust = f.trust(keys)
    state = _state(plan)
    assert _approve(state, plan, keys["duty-officer"], "duty-officer", trust).pending == 1
    revoked = f.trust({"second-officer": keys["second-officer"]})  # duty's key removed since
    outcome = _approve(state, plan, keys["second-officer"], "second-officer", revoked)
    assert outcome.release is None and outcome.pending == 1
    assert [(w.decision.operator_id, w.refusal) for w in outcome.withdrawn] == [
        ("duty-officer", Refusal.UNKNOWN_KEY)
    ]


def test_an_approval_that_ran_out_while_waiting_no_longer_counts(keys):
    plan = f.plan(sku="AMMO-556", expires_in=timedelta(hours=8))
    trust = f.trust(keys)
    state = _state(plan)
    assert _approve(state, plan, keys["duty-officer"], "duty-officer", trust).pending == 1
    later = f.NOW + timedelta(hours=2)  # the first approval expired at NOW + 1 h
    outcome = _approve(state, plan, keys["second-officer"], "second-officer", trust, at=later)
    assert outcome.release is None
    assert [w.refusal for w in outcome.withdrawn] == [Refusal.DECISION_EXPIRED]


def test_the_quorum_counts_people_not_operator_ids(keys):
    plan = f.plan(sku="AMMO-556")
    trust = f.trust(keys)
    second = next(k for k in trust.keys.values() if k.operator_id == "second-officer")
    # The second key is held by the same person as the first, under another id.
    trust.keys[second.key_id] = second.model_copy(update={"name": "Duty-Officer"})
    state = _state(plan)
    assert _approve(state, plan, keys["duty-officer"], "duty-officer", trust).pending == 1
    outcome = _approve(state, plan, keys["second-officer"], "second-officer", trust)
    assert outcome.refusal is Refusal.SAME_PERSON and outcome.release is None


def test_an_edited_release_no_longer_verifies_offline(keys):
    plan = f.plan()
    release = evaluate(
        _state(plan), f.decision(plan, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY
    ).release
    assert release is not None
    approval = release.approvals[0]
    trusted = f.trust(keys).keys[approval.key_id]
    assert verify_approval(release, approval, trusted)
    other_stop = release.plan.routes[0].model_copy(update={"depot": "DEPOT-ELSEWHERE"})
    edited = release.model_copy(
        update={"plan": release.plan.model_copy(update={"routes": (other_stop,)})}
    )
    assert edited.plan.plan_hash == release.plan_hash  # the stated hash was left alone
    assert not verify_approval(edited, approval, trusted)


def _served_as(order_id: str, claim_for: str) -> PlanProposed:
    plan = f.plan()
    route = plan.routes[0]
    stops = tuple(s.model_copy(update={"order_id": order_id}) for s in route.stops)
    return _rehash(
        plan,
        order_ids=(order_id,),
        routes=(route.model_copy(update={"stops": stops}),),
        submitters=(f.signed_order(order_id, f.submitter(claim_for)),),
    )


def test_a_senders_claim_covers_the_parts_its_text_was_split_into_and_nothing_else(keys):
    trust = f.trust(keys)
    part = _served_as("ord-1.2", "ord-1")
    assert "unauthenticated_submitter" not in risk_reasons(part, f.SCENARIO, trust, f.NOW)
    lookalike = _served_as("ord-10", "ord-1")
    assert "unauthenticated_submitter" in risk_reasons(lookalike, f.SCENARIO, trust, f.NOW)


def test_an_order_keyed_like_a_part_does_not_borrow_the_claim_of_the_order_it_names(keys):
    """A client keys its unsigned order `ord-1.5` beside the signed `ord-1` in one plan: only
    the claim the planner attached to each served order counts."""
    plan = f.routed_plan({"TRK-1": ("ord-1", "ord-1.5")}, tag="borrow")
    plan = _rehash(plan, submitters=(f.signed_order("ord-1"),))
    assert verified_submitters(plan, f.trust(keys), f.NOW) == {"ord-1": "s4-clerk"}
    assert "unauthenticated_submitter" in risk_reasons(plan, f.SCENARIO, f.trust(keys), f.NOW)
