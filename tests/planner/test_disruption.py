"""The planner's decision when a vehicle goes out or a zone cuts a route: which plan is revised,
which released stops move, and which stay locked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.fleet import VehicleStatus
from schemas.orders import OrderParsed
from services.common.scenario import LoadedScenario
from services.planner.fleet import FleetState
from services.planner.pipeline import plan_batch
from services.planner.problem import PlanParams
from services.planner.replan import Lineage, Proposed, combine, superseding
from tests.planner.conftest import OrderFactory
from tests.planner.helpers import FAST, NOW, scenario_with, vehicle
from tests.planner.test_fleet import report


@pytest.fixture
def loaded() -> LoadedScenario:
    scenario = scenario_with(
        vehicle("TRUCK-A", "DEPOT-A", 2000, 6),
        vehicle("TRUCK-B", "DEPOT-B", 2000, 6),
        vehicle("TRUCK-C", "DEPOT-A", 2000, 6),
    )
    return LoadedScenario(scenario=scenario, path="tiny", sha256="0" * 64)


def _first(orders: list[OrderParsed], loaded: LoadedScenario) -> Proposed:
    return Proposed(plan_batch(orders, loaded, NOW, PlanParams(), FAST), tuple(orders))


def _vehicles(proposed: Proposed) -> dict[str, str]:
    return {s.order_id: r.vehicle_id for r in proposed.plan.routes for s in r.stops}


def _two_routes(order: OrderFactory, loaded: LoadedScenario) -> Proposed:
    """FOB-1 (near DEPOT-A) and a second order near DEPOT-B: two vehicles."""
    orders = [order("a", "FOB-1", ("TARP", 1)), order("b", "DEPOT-B", ("TARP", 1))]
    first = _first(orders, loaded)
    assert len({r.vehicle_id for r in first.plan.routes}) == 2
    return first


def test_an_open_plan_that_uses_the_vehicle_is_revised_and_nothing_is_released(
    order: OrderFactory, loaded
):
    lineage = Lineage()
    first = _two_routes(order, loaded)
    lineage.record(first)
    gone = _vehicles(first)["a"]
    disruption = lineage.disrupt({gone}, NOW)
    assert disruption is not None
    assert disruption.basis.supersedes == first.plan.plan_id
    assert disruption.released is None and disruption.moved == ()
    assert disruption.basis.locks == ()
    assert lineage.disrupt({"NOT-USED"}, NOW) is None


def test_a_released_plan_moves_only_the_lost_vehicles_stops(order: OrderFactory, loaded):
    lineage = Lineage()
    first = _two_routes(order, loaded)
    lineage.record(first)
    lineage.on_released(first.plan.plan_id)
    by_order = _vehicles(first)
    gone = by_order["a"]
    disruption = lineage.disrupt({gone}, NOW + timedelta(days=3))  # released: expiry is no bar
    assert disruption is not None
    assert disruption.released == first.plan.plan_id
    assert disruption.moved == tuple(o for o, v in by_order.items() if v == gone)
    assert disruption.basis.supersedes == first.plan.plan_id
    assert {lk.vehicle_id for lk in disruption.basis.locks} == {by_order["b"]}
    # The revision, solved with the vehicle out, keeps the other stop where it was.
    state = FleetState()
    state.apply(gone, report(gone, VehicleStatus.DOWN))
    basis = disruption.basis
    plan = plan_batch(
        combine(basis.orders, []), loaded, NOW, PlanParams(), FAST, locks=basis.locks, fleet=state
    )
    revised = Proposed(superseding(plan, basis.supersedes), basis.orders, basis.locked_to)
    after = _vehicles(revised)
    assert gone not in after.values() and after["b"] == by_order["b"] and "a" in after
    # Later batches keep the lost vehicle's stops unlocked too.
    lineage.record(revised)
    later = lineage.basis(1, NOW)
    assert later is not None and gone not in {lk.vehicle_id for lk in later.locks}


def test_an_open_revision_of_a_released_plan_is_revised_and_the_release_alerted(
    order: OrderFactory, loaded
):
    lineage = Lineage()
    first = _two_routes(order, loaded)
    lineage.record(first)
    lineage.on_released(first.plan.plan_id)
    basis = lineage.basis(1, NOW)
    assert basis is not None
    new = combine(basis.orders, [order("c", "FOB-2", ("TARP", 1))])
    plan = plan_batch(new, loaded, NOW, PlanParams(), FAST, locks=basis.locks)
    head = Proposed(superseding(plan, basis.supersedes), tuple(new), basis.locked_to)
    lineage.record(head)
    gone = _vehicles(first)["a"]
    disruption = lineage.disrupt({gone}, NOW)
    assert disruption is not None
    assert disruption.basis.supersedes == head.plan.plan_id  # the open head is revised
    assert disruption.released == first.plan.plan_id  # and the release is disrupted
    assert "a" in disruption.moved
    assert [p.plan_id for p in lineage.live(NOW)] == [first.plan.plan_id, head.plan.plan_id]


def test_a_rejected_plan_with_no_release_behind_it_is_left_alone(order: OrderFactory, loaded):
    lineage = Lineage()
    first = _two_routes(order, loaded)
    lineage.record(first)
    lineage.on_rejected(first.plan.plan_id)
    assert lineage.disrupt(set(_vehicles(first).values()), NOW) is None
    assert lineage.live(NOW) == ()


def test_a_rejected_head_restored_after_a_restart_is_never_re_planned(order: OrderFactory, loaded):
    """The topics say the head was rejected: no batch joins it, and replaying the release it
    revised does not re-plan it (the gate's outcomes are replayed after the restore)."""
    first = _two_routes(order, loaded)
    gone = _vehicles(first)["a"]
    lineage = Lineage()
    lineage.record(first)
    lineage.on_released(first.plan.plan_id)
    disruption = lineage.disrupt({gone}, NOW)
    assert disruption is not None
    basis = disruption.basis
    plan = plan_batch(list(basis.orders), loaded, NOW, PlanParams(), FAST, locks=basis.locks)
    revision = superseding(plan, basis.supersedes)
    orders = {o.order_id: o for o in first.orders}
    restarted = Lineage()
    restarted.restore([first.plan, revision], [first.plan.plan_id], orders, [revision.plan_id])
    assert restarted.head == revision.plan_id
    assert restarted.basis(1, NOW) is None
    assert restarted.on_outcome("plan_released", first.plan.plan_id) is None
