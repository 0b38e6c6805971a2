"""Re-planning: a new batch supersedes the open plan; a released plan's stops stay locked,
and the gate's independent rules accept the revision."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.orders import OrderParsed
from schemas.plans import PlanProposed
from services.common.scenario import LoadedScenario
from services.gate.rules import GateState, Outcome, Policy, Refusal, evaluate
from services.planner.pipeline import plan_batch
from services.planner.problem import PlanParams
from services.planner.replan import Lineage, Proposed, combine, superseding
from tests import factories as f
from tests.planner.conftest import OrderFactory
from tests.planner.helpers import FAST, NOW, scenario_with, vehicle


@pytest.fixture
def loaded() -> LoadedScenario:
    scenario = scenario_with(
        vehicle("TRUCK-A", "DEPOT-A", 2000, 6), vehicle("TRUCK-B", "DEPOT-B", 2000, 6)
    )
    return LoadedScenario(scenario=scenario, path="tiny", sha256="0" * 64)


def _proposed(orders: list[OrderParsed], loaded: LoadedScenario, lineage: Lineage) -> Proposed:
    basis = lineage.basis(len(orders), NOW)
    if basis is None:
        return Proposed(plan_batch(orders, loaded, NOW, PlanParams(), FAST), tuple(orders))
    combined = combine(basis.orders, orders)
    plan = plan_batch(combined, loaded, NOW, PlanParams(), FAST, locks=basis.locks)
    return Proposed(superseding(plan, basis.supersedes), tuple(combined), basis.locked_to)


def _vehicles(plan: PlanProposed) -> dict[str, str]:
    return {s.order_id: r.vehicle_id for r in plan.routes for s in r.stops}


def test_a_new_batch_supersedes_the_open_plan_and_carries_its_orders(order: OrderFactory, loaded):
    lineage = Lineage()
    first = _proposed([order("a", "FOB-1", ("TARP", 1))], loaded, lineage)
    lineage.record(first)
    second = _proposed([order("b", "FOB-2", ("TARP", 1))], loaded, lineage)
    assert second.plan.supersedes == first.plan.plan_id
    assert second.plan.order_ids == ("a", "b")
    assert second.plan.plan_id != first.plan.plan_id
    assert second.plan.computed_hash() == second.plan.plan_hash
    assert second.locked_to is None


def test_rejected_expired_or_full_heads_are_not_superseded(order: OrderFactory, loaded):
    lineage = Lineage(max_orders=2)
    head = _proposed([order("a", "FOB-1", ("TARP", 1))], loaded, lineage)
    lineage.record(head)
    assert lineage.basis(2, NOW) is None  # 1 + 2 orders > max_orders
    assert lineage.basis(1, head.plan.expires_at) is None
    lineage.on_rejected(head.plan.plan_id)
    assert lineage.basis(1, NOW) is None


def test_a_revision_of_a_released_plan_keeps_its_stops_and_the_gate_accepts_it(
    order: OrderFactory, loaded
):
    keys = {"duty-officer": Ed25519PrivateKey.generate()}
    trust = f.trust(keys)
    lineage, gate = Lineage(), GateState()

    def judge(plan: PlanProposed) -> Outcome:
        decision = f.decision(plan, keys["duty-officer"], at=NOW)
        return evaluate(gate, decision, trust, NOW, Policy(loaded.scenario))

    first = _proposed(
        [order("a", "FOB-1", ("TARP", 1)), order("b", "HOSP-1", ("TARP", 1))], loaded, lineage
    )
    lineage.record(first)
    gate.remember_plan(first.plan)
    release = judge(first.plan).release
    assert release is not None
    gate.remember_release(release)
    assert lineage.on_released(first.plan.plan_id) is None  # the head itself: nothing to redo

    second = _proposed([order("c", "FOB-2", ("TARP", 1))], loaded, lineage)
    assert second.locked_to == first.plan.plan_id
    kept = _vehicles(first.plan)
    assert {o: v for o, v in _vehicles(second.plan).items() if o in kept} == kept
    gate.remember_plan(second.plan)
    outcome = judge(second.plan)
    assert outcome.refusal is None and outcome.release is not None

    moved = second.plan.model_copy(
        update={
            "routes": tuple(
                r.model_copy(update={"vehicle_id": "TRUCK-X"}) for r in second.plan.routes
            ),
            "plan_id": "plan-moved",
        }
    )
    moved = moved.model_copy(update={"plan_hash": moved.computed_hash()})
    gate.remember_plan(moved)
    refused = judge(moved)
    assert refused.refusal in {Refusal.LOCK_VIOLATED, Refusal.ORDER_ALREADY_RELEASED}


def test_a_release_racing_a_revision_triggers_a_locked_re_plan(order: OrderFactory, loaded):
    lineage = Lineage()
    first = _proposed([order("a", "FOB-1", ("TARP", 1))], loaded, lineage)
    lineage.record(first)
    revision = _proposed([order("b", "FOB-2", ("TARP", 1))], loaded, lineage)
    lineage.record(revision)
    assert revision.locked_to is None
    basis = lineage.on_released(first.plan.plan_id)  # approved before the gate saw the revision
    assert basis is not None
    assert basis.supersedes == revision.plan.plan_id
    assert basis.locked_to == first.plan.plan_id
    assert [lock.order_id for lock in basis.locks] == ["a"]
    assert {o.order_id for o in basis.orders} == {"a", "b"}


def test_superseding_keeps_everything_but_identity(order: OrderFactory, loaded):
    plan = plan_batch([order("a", "FOB-1", ("TARP", 1))], loaded, NOW, PlanParams(), FAST)
    later = superseding(plan, "plan-earlier")
    assert later.supersedes == "plan-earlier"
    assert later.routes == plan.routes and later.expires_at - plan.expires_at == timedelta(0)
    assert later.plan_hash != plan.plan_hash and later.message_id != plan.message_id


def _orders(order: OrderFactory, *ids: str) -> dict[str, OrderParsed]:
    return {i: order(i, "FOB-1", ("TARP", 1)) for i in ids}


def test_a_restart_resumes_the_head_and_re_plans_it_only_if_it_moved_released_stops(
    order: OrderFactory,
):
    first = f.routed_plan({"TRK-1": ("a", "b")}, tag="first")
    moved = f.routed_plan({"TRK-2": ("a", "b", "c")}, supersedes=first.plan_id, tag="moved")
    kept = f.routed_plan({"TRK-1": ("a", "c", "b")}, supersedes=first.plan_id, tag="kept")
    orders = _orders(order, "a", "b", "c")
    for revision, replans in ((moved, True), (kept, False)):
        lineage = Lineage()
        lineage.restore([first, revision], [first.plan_id], orders)
        assert lineage.head == revision.plan_id
        # The audit trail replays the release after the restart.
        basis = lineage.on_released(first.plan_id)
        assert (basis is not None) is replans, revision.plan_id
        if basis is not None:
            assert basis.supersedes == revision.plan_id and basis.locked_to == first.plan_id
            assert [(k.order_id, k.vehicle_id) for k in basis.locks] == [
                ("a", "TRK-1"),
                ("b", "TRK-1"),
            ]


def test_a_restart_without_the_orders_starts_fresh_and_memory_keeps_only_the_lineage(
    order: OrderFactory,
):
    first = f.routed_plan({"TRK-1": ("a",)}, tag="first")
    lineage = Lineage()
    lineage.restore([first], [], _orders(order, "b"))
    assert lineage.head is None and lineage.basis(1, NOW) is None
    other = f.routed_plan({"TRK-1": ("x",)}, tag="other")
    lineage.record(Proposed(other, tuple(_orders(order, "x").values())))
    revision = f.routed_plan({"TRK-1": ("x", "y")}, supersedes=other.plan_id, tag="rev")
    lineage.record(Proposed(revision, tuple(_orders(order, "x", "y").values())))
    fresh = f.routed_plan({"TRK-1": ("z",)}, tag="fresh")
    lineage.record(Proposed(fresh, tuple(_orders(order, "z").values())))
    assert set(lineage.plans) == {fresh.plan_id}


def test_the_gates_outcomes_steer_the_lineage_and_strangers_are_ignored(
    order: OrderFactory, loaded
):
    lineage = Lineage()
    first = _proposed([order("a", "FOB-1", ("TARP", 1))], loaded, lineage)
    lineage.record(first)
    revision = _proposed([order("b", "FOB-2", ("TARP", 1))], loaded, lineage)
    lineage.record(revision)
    assert lineage.on_outcome("plan_released", "plan-of-someone-else") is None
    assert lineage.on_outcome("decision_recorded", first.plan.plan_id) is None
    basis = lineage.on_outcome("plan_released", first.plan.plan_id)
    assert basis is not None and basis.supersedes == revision.plan.plan_id
    assert lineage.on_outcome("plan_rejected", revision.plan.plan_id) is None
    assert revision.plan.plan_id in lineage.rejected
