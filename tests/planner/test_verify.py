"""verify: an honest plan passes; tampered plans are caught with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.orders import OrderParsed, Priority
from schemas.plans import PlanProposed
from services.common.scenario import Scenario
from services.planner.verify import verify
from tests.planner.conftest import OrderFactory, Planned, Planner
from tests.planner.helpers import NOW


@pytest.fixture
def short(one_truck: Scenario, order: OrderFactory, planner: Planner) -> Planned:
    """One truck, room for one pallet: the urgent order is routed, the routine one is not."""
    return planner(_orders(order), one_truck)


def _orders(order: OrderFactory) -> list[OrderParsed]:
    by = NOW + timedelta(hours=12)
    return [
        order("r", "FOB-1", ("WATER-PAL", 1), deliver_by=by),
        order("u", "FOB-2", ("WATER-PAL", 1), priority=Priority.URGENT, deliver_by=by),
    ]


def _rehash(plan: PlanProposed, **update: object) -> PlanProposed:
    changed = plan.model_copy(update=update)
    return changed.model_copy(update={"plan_hash": changed.computed_hash()})


def test_honest_plan_has_no_violations(
    short: Planned, one_truck: Scenario, order: OrderFactory
) -> None:
    """The planner's own output verifies clean."""
    assert verify(short.plan, one_truck, _orders(order)) == []


def test_overload_is_caught(short: Planned, one_truck: Scenario, order: OrderFactory) -> None:
    """Moving the unserved pallet onto the full truck is reported as an overload."""
    (route,) = short.plan.routes
    (stop,) = route.stops
    extra = stop.model_copy(
        update={
            "order_id": "r",
            "location": "FOB-1",
            "arrival": stop.departure + timedelta(hours=2),
            "departure": stop.departure + timedelta(hours=3),
        }
    )
    bad_route = route.model_copy(
        update={"stops": (stop, extra), "end": route.end + timedelta(hours=4)}
    )
    bad = _rehash(short.plan, routes=(bad_route,), unserved=())
    found = verify(bad, one_truck, _orders(order))
    assert any("over 1000" in v for v in found), found


def test_tampered_hash_and_missing_order_are_caught(
    short: Planned, one_truck: Scenario, order: OrderFactory
) -> None:
    """Dropping an unserved order without rehashing breaks coverage and the hash."""
    bad = short.plan.model_copy(update={"unserved": ()})
    found = verify(bad, one_truck, _orders(order))
    assert "order r is neither routed nor unserved" in found
    assert "plan_hash does not match the plan content" in found


def test_impossible_timing_is_caught(
    short: Planned, one_truck: Scenario, order: OrderFactory
) -> None:
    """An arrival at the very moment the truck leaves the depot cannot be driven."""
    (route,) = short.plan.routes
    (stop,) = route.stops
    fast = stop.model_copy(
        update={"arrival": route.start, "departure": route.start + timedelta(minutes=20)}
    )
    bad = _rehash(short.plan, routes=(route.model_copy(update={"stops": (fast,)}),))
    found = verify(bad, one_truck, _orders(order))
    assert any("sooner than the drive" in v for v in found), found


def test_skill_and_window_breaches_are_caught(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """The reefer's vaccine route handed to the plain truck and run late breaks two rules."""
    orders = [order("v", "HOSP-1", ("VACCINE", 1), deliver_by=NOW.replace(hour=12))]
    run = planner(orders, tiny)
    (reef,) = run.plan.routes
    (vstop,) = reef.stops
    late = vstop.model_copy(
        update={"arrival": NOW.replace(hour=19), "departure": NOW.replace(hour=19, minute=20)}
    )
    moved = reef.model_copy(
        update={"vehicle_id": "TRUCK-1", "stops": (late,), "end": NOW.replace(hour=19, minute=59)}
    )
    found = verify(_rehash(run.plan, routes=(moved,)), tiny, orders)
    assert reef.vehicle_id == "REEF-1"
    assert "TRUCK-1 lacks cold_chain for v" in found
    assert any("after deliver_by" in v for v in found), found
