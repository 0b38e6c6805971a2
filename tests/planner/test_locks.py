"""Locked stops of a released plan: same vehicle and shift, same relative order, never dropped."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from schemas.orders import OrderParsed, Priority
from schemas.plans import PlanProposed, Unserved
from services.common.scenario import LoadedScenario, Scenario
from services.planner import sisr
from services.planner.locks import Lock, locks_from
from services.planner.pipeline import LocksInfeasible, plan_batch
from services.planner.problem import PlanParams, Problem, build_problem
from services.planner.solver import Construction
from services.planner.verify import verify
from tests.planner.conftest import OrderFactory
from tests.planner.helpers import FAST, NOW, scenario_with, vehicle

OUT_OF_ORDER = "TRUCK-A serves its locked stops out of their locked order"


@pytest.fixture
def two_depots() -> LoadedScenario:
    """Plain trucks at both depots; every FOB and the hospital lie next to DEPOT-A."""
    scenario = scenario_with(
        vehicle("TRUCK-A", "DEPOT-A", 2000, 6), vehicle("TRUCK-B", "DEPOT-B", 2000, 6)
    )
    return LoadedScenario(scenario=scenario, path="tiny", sha256="0" * 64)


def _plan(
    orders: Sequence[OrderParsed],
    loaded: LoadedScenario,
    locks: Sequence[Lock] = (),
    at: datetime = NOW,
) -> PlanProposed:
    return plan_batch(orders, loaded, at, PlanParams(), FAST, locks=locks)


def _sequence(plan: PlanProposed, vehicle_id: str) -> list[str]:
    routes = sorted((r for r in plan.routes if r.vehicle_id == vehicle_id), key=lambda r: r.start)
    return [stop.order_id for route in routes for stop in route.stops]


def _square(order: OrderFactory) -> list[OrderParsed]:
    return [
        order("a", "FOB-1", ("TARP", 1)),
        order("b", "FOB-2", ("TARP", 1)),
        order("c", "HOSP-1", ("TARP", 1)),
        order("d", "HOSP-1", ("TARP", 1)),
    ]


# a, b, c in a crossing order (FOB-1, FOB-2, then the hospital between them) and d on the far
# truck: an unlocked solve keeps everything on TRUCK-A and goes round the square instead.
CROSSING = (
    Lock("a", "TRUCK-A", 0),
    Lock("b", "TRUCK-A", 1),
    Lock("c", "TRUCK-A", 2),
    Lock("d", "TRUCK-B", 0),
)


def test_locks_keep_vehicle_and_order_an_unlocked_solve_would_change(
    two_depots: LoadedScenario, order: OrderFactory
) -> None:
    """The unlocked plan breaks the locks (verify says so); the locked plan keeps them."""
    free = _plan(_square(order), two_depots)
    found = verify(free, two_depots.scenario, _square(order), locks=CROSSING)
    assert "locked order d moved from TRUCK-B to TRUCK-A" in found
    assert OUT_OF_ORDER in found

    held = _plan(_square(order), two_depots, CROSSING)
    assert _sequence(held, "TRUCK-A") == ["a", "b", "c"]
    assert _sequence(held, "TRUCK-B") == ["d"]
    assert held.unserved == ()
    assert verify(held, two_depots.scenario, _square(order), locks=CROSSING) == []


def test_locks_from_ranks_each_vehicles_stops_and_new_orders_are_inserted(
    two_depots: LoadedScenario, order: OrderFactory
) -> None:
    """A re-plan with new orders serves them too; released stops keep vehicle and order."""
    released = _plan(_square(order), two_depots, CROSSING)
    locks = locks_from(released)
    assert sorted((lk.vehicle_id, lk.position, lk.order_id) for lk in locks) == [
        ("TRUCK-A", 0, "a"),
        ("TRUCK-A", 1, "b"),
        ("TRUCK-A", 2, "c"),
        ("TRUCK-B", 0, "d"),
    ]
    new = [order("e", "FOB-1", ("TARP", 2)), order("f", "FOB-2", ("WATER-PAL", 1))]
    replan = _plan([*_square(order), *new], two_depots, locks, at=NOW + timedelta(minutes=30))
    assert replan.unserved == ()
    a_stops = _sequence(replan, "TRUCK-A")
    assert [oid for oid in a_stops if oid in "abc"] == ["a", "b", "c"]
    assert "d" in _sequence(replan, "TRUCK-B")
    assert {"e", "f"} <= set(a_stops) | set(_sequence(replan, "TRUCK-B"))


def test_a_lock_keeps_the_shift_of_its_released_arrival(
    two_depots: LoadedScenario, order: OrderFactory
) -> None:
    """A stop released for tomorrow stays tomorrow, though today's shift is cheaper."""
    tomorrow = NOW + timedelta(days=1, hours=4)
    free = _plan([order("a", "FOB-1", ("TARP", 1))], two_depots)
    assert free.routes[0].start.date() == NOW.date()
    held = _plan(
        [order("a", "FOB-1", ("TARP", 1))], two_depots, [Lock("a", "TRUCK-A", 0, tomorrow)]
    )
    (route,) = held.routes
    assert (route.vehicle_id, route.start.date()) == ("TRUCK-A", tomorrow.date())


def test_a_lock_whose_window_has_passed_is_infeasible(
    two_depots: LoadedScenario, order: OrderFactory
) -> None:
    """Re-planning after the locked order's deliver_by raises LocksInfeasible, not a drop."""
    orders = [order("a", "FOB-1", ("TARP", 1), deliver_by=NOW + timedelta(hours=3))]
    locks = locks_from(_plan(orders, two_depots))
    with pytest.raises(LocksInfeasible, match="locked order a can no longer be served"):
        _plan(orders, two_depots, locks, at=NOW + timedelta(hours=5))


def test_a_lock_on_a_vehicle_without_the_skill_is_infeasible(order: OrderFactory) -> None:
    """Vaccines locked to a truck with no cold chain cannot be kept."""
    loaded = LoadedScenario(
        scenario=scenario_with(vehicle("TRUCK-A", "DEPOT-A", 2000, 6)), path="t", sha256="0" * 64
    )
    with pytest.raises(LocksInfeasible, match="required skills"):
        _plan([order("v", "FOB-1", ("VACCINE", 1))], loaded, [Lock("v", "TRUCK-A", 0)])


def test_locked_order_contradicting_the_windows_is_infeasible(
    two_depots: LoadedScenario, order: OrderFactory
) -> None:
    """Each locked stop is reachable alone, but not late-opening x before early-closing y."""
    orders = [
        order("x", "FOB-1", ("TARP", 1), not_before=NOW + timedelta(hours=8)),
        order("y", "FOB-2", ("TARP", 1), deliver_by=NOW + timedelta(hours=3)),
    ]
    locks = [Lock("x", "TRUCK-A", 0), Lock("y", "TRUCK-A", 1)]
    with pytest.raises(LocksInfeasible, match="not placed: x, y"):
        _plan(orders, two_depots, locks)


def test_verify_catches_a_locked_stop_moved_reordered_or_unserved(
    two_depots: LoadedScenario, order: OrderFactory
) -> None:
    """Swapping two locked stops, moving one to another truck, or dropping one is reported."""
    held = _plan(_square(order), two_depots, CROSSING)
    (a_route,) = [r for r in held.routes if r.vehicle_id == "TRUCK-A"]
    (b_route,) = [r for r in held.routes if r.vehicle_id == "TRUCK-B"]
    first, second, *rest = a_route.stops
    swapped = a_route.model_copy(update={"stops": (second, first, *rest)})
    moved = a_route.model_copy(update={"stops": (*a_route.stops, *b_route.stops)})
    scenario, orders = two_depots.scenario, _square(order)

    found = verify(
        held.model_copy(update={"routes": (swapped, b_route)}), scenario, orders, locks=CROSSING
    )
    assert OUT_OF_ORDER in found
    found = verify(held.model_copy(update={"routes": (moved,)}), scenario, orders, locks=CROSSING)
    assert "locked order d moved from TRUCK-B to TRUCK-A" in found
    unserved = held.model_copy(
        update={
            "routes": (a_route,),
            "unserved": (Unserved(order_id="d", priority=Priority.ROUTINE, reason="x"),),
        }
    )
    found = verify(
        PlanProposed.model_validate(unserved.model_dump()), scenario, orders, locks=CROSSING
    )
    assert "locked order d is unserved; it must stay on TRUCK-B" in found


def test_locks_change_the_plan_id_and_plans_without_locks_keep_theirs(
    two_depots: LoadedScenario, order: OrderFactory
) -> None:
    """The same orders planned with and without locks are different plans."""
    free = _plan(_square(order), two_depots)
    again = _plan(_square(order), two_depots)
    held = _plan(_square(order), two_depots, CROSSING)
    assert free.plan_id == again.plan_id != held.plan_id


def test_scenario_without_the_locked_vehicle_is_infeasible(order: OrderFactory) -> None:
    """A lock naming a vehicle that left the fleet cannot be kept."""
    only_b: Scenario = scenario_with(vehicle("TRUCK-B", "DEPOT-B", 2000, 6))
    loaded = LoadedScenario(scenario=only_b, path="t", sha256="0" * 64)
    with pytest.raises(LocksInfeasible, match="TRUCK-A"):
        _plan([order("a", "FOB-1", ("TARP", 1))], loaded, [Lock("a", "TRUCK-A", 0)])


@pytest.mark.parametrize("construction", ["sisr", "savings"])
def test_both_start_routes_keep_locks_while_new_orders_join(
    two_depots: LoadedScenario, order: OrderFactory, construction: str
) -> None:
    """Ruin and recreate passes over locked stops (and OR-Tools alone keeps them too)."""
    new = [order(f"n{k}", loc, ("TARP", 1)) for k, loc in enumerate(("FOB-1", "FOB-2", "HOSP-1"))]
    params = replace(FAST, construction=Construction(start=construction))
    plan = plan_batch(
        [*_square(order), *new], two_depots, NOW, PlanParams(), params, locks=CROSSING
    )
    assert plan.unserved == ()
    locked = {"a", "b", "c", "d"}
    assert [oid for oid in _sequence(plan, "TRUCK-A") if oid in locked] == ["a", "b", "c"]
    assert [oid for oid in _sequence(plan, "TRUCK-B") if oid in locked] == ["d"]
    assert verify(plan, two_depots.scenario, [*_square(order), *new], locks=CROSSING) == []


def test_ruin_and_recreate_never_moves_a_locked_stop(
    two_depots: LoadedScenario, order: OrderFactory
) -> None:
    """The C search's own routes: locked jobs on their duty in their order, every job served."""
    new = [order(f"n{k}", loc, ("TARP", 1)) for k, loc in enumerate(("FOB-2", "HOSP-1") * 3)]
    problem = build_problem([*_square(order), *new], two_depots.scenario, NOW, locks=CROSSING)
    routes = sisr.start_routes(problem, 0.3, seed=3)
    assert routes is not None
    where = {problem.jobs[k].node: k for k in range(len(problem.jobs))}
    for run in problem.locked:
        on_duty = [where[n] for n in routes[run.duty]]
        assert [k for k in on_duty if k in run.jobs] == list(run.jobs)
    assert sorted(where[n] for r in routes for n in r) == list(range(len(problem.jobs)))


def test_refused_start_routes_found_with_no_time_left_give_way_to_the_locked_runs(
    two_depots: LoadedScenario, order: OrderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start routes that break a lock, returned after the limit: the locked runs are the plan."""

    def late_and_wrong(problem: Problem, budget_s: float, **_: object) -> list[list[int]]:
        time.sleep(budget_s + 0.3)
        return [[job.node for job in problem.jobs]]  # every stop on one duty: a lock moves

    monkeypatch.setattr(sisr, "start_routes", late_and_wrong)
    places = ("FOB-1", "FOB-2", "HOSP-1") * 20
    orders = [*_square(order), *(order(f"n{k}", at, ("TARP", 1)) for k, at in enumerate(places))]
    plan = _plan(orders, two_depots, CROSSING)
    locked = {"a", "b", "c", "d"}
    assert [oid for oid in _sequence(plan, "TRUCK-A") if oid in locked] == ["a", "b", "c"]
    assert [oid for oid in _sequence(plan, "TRUCK-B") if oid in locked] == ["d"]
    assert verify(plan, two_depots.scenario, orders, locks=CROSSING) == []
