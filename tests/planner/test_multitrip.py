"""Multi-trip: a vehicle reloads at a depot that holds the goods; verification checks each trip."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.orders import OrderParsed
from schemas.plans import PlanProposed
from services.common.scenario import Scenario
from services.planner import sisr
from services.planner.problem import PlanParams, build_problem
from services.planner.verify import verify
from tests.planner.conftest import OrderFactory, Planned, Planner
from tests.planner.helpers import NOW, scenario_with, vehicle

RELOAD = {"truck": {"reload_min": 30}}


def _truck(**rules: object) -> Scenario:
    """One truck with room for one water pallet (950 kg of 1000), reloading as given."""
    return scenario_with(vehicle("TRUCK-1", "DEPOT-A", 1000, 6), vehicle_types=rules)


def _pallets(order: OrderFactory) -> list[OrderParsed]:
    """Three pallets due today: one truckload each."""
    by = NOW + timedelta(hours=12)
    return [
        order("a", "FOB-1", ("WATER-PAL", 1), deliver_by=by),
        order("b", "FOB-2", ("WATER-PAL", 1), deliver_by=by),
        order("c", "HOSP-1", ("WATER-PAL", 1), deliver_by=by),
    ]


@pytest.fixture
def reloading(order: OrderFactory, planner: Planner) -> Planned:
    return planner(_pallets(order), _truck(**RELOAD))


def _rehash(plan: PlanProposed, **update: object) -> PlanProposed:
    changed = plan.model_copy(update=update)
    return changed.model_copy(update={"plan_hash": changed.computed_hash()})


def test_one_trip_serves_one_pallet(order: OrderFactory, planner: Planner) -> None:
    """Without reloads the truck carries one of the three pallets; two stay unserved."""
    planned = planner(_pallets(order), _truck())
    assert [len(r.stops) for r in planned.plan.routes] == [1]
    assert len(planned.plan.unserved) == 2


def test_reloads_make_the_batch_servable(
    reloading: Planned, order: OrderFactory, planner: Planner
) -> None:
    """With a 30 min reload the same truck serves all three, reloading between its trips."""
    (route,) = reloading.plan.routes
    assert reloading.plan.unserved == ()
    assert len(route.stops) == 3
    assert [r.after_stops for r in route.reloads] == [1, 2]
    for r in route.reloads:
        assert r.depot == "DEPOT-A"
        assert r.departure - r.arrival >= timedelta(minutes=30)
        assert r.load_kg == pytest.approx(950)
    assert verify(reloading.plan, _truck(**RELOAD), _pallets(order)) == []


def test_verification_rejects_an_overloaded_trip(reloading: Planned, order: OrderFactory) -> None:
    """Leaving out the first reload puts two pallets on one trip: an overload."""
    (route,) = reloading.plan.routes
    bad = _rehash(reloading.plan, routes=(route.model_copy(update={"reloads": route.reloads[1:]}),))
    found = verify(bad, _truck(**RELOAD), _pallets(order))
    assert any("1900.0 kg on trip 1 from DEPOT-A, over 1000" in v for v in found), found


def test_verification_rejects_a_reload_without_its_time(
    reloading: Planned, order: OrderFactory
) -> None:
    """A reload that leaves the moment it arrives skips the reload time."""
    (route,) = reloading.plan.routes
    first, *rest = route.reloads
    quick = first.model_copy(update={"departure": first.arrival})
    bad = _rehash(reloading.plan, routes=(route.model_copy(update={"reloads": (quick, *rest)}),))
    found = verify(bad, _truck(**RELOAD), _pallets(order))
    assert any("before its reload at DEPOT-A time is over" in v for v in found), found


def test_verification_rejects_reloads_of_a_one_trip_type(
    reloading: Planned, order: OrderFactory
) -> None:
    """The same plan against a scenario whose trucks make one trip is refused."""
    found = verify(reloading.plan, _truck(), _pallets(order))
    assert any("make one trip" in v for v in found), found


def test_verification_rejects_a_reload_where_the_goods_are_not_held(
    reloading: Planned, order: OrderFactory
) -> None:
    """A reload moved to a depot that holds only tarps cannot load water."""
    scenario = scenario_with(
        vehicle("TRUCK-1", "DEPOT-A", 1000, 6), vehicle_types=RELOAD, holds={"DEPOT-B": ["TARP"]}
    )
    (route,) = reloading.plan.routes
    first, *rest = route.reloads
    moved = first.model_copy(update={"depot": "DEPOT-B"})
    bad = _rehash(reloading.plan, routes=(route.model_copy(update={"reloads": (moved, *rest)}),))
    found = verify(bad, scenario, _pallets(order))
    assert any("loads WATER-PAL at DEPOT-B, which does not hold it" in v for v in found), found


def test_a_truck_reloads_only_where_its_goods_are_held(order: OrderFactory) -> None:
    """Every depot holding the water may be a reload stop; one holding only tarps may not."""
    anywhere = build_problem(_pallets(order), _truck(**RELOAD), NOW, PlanParams())
    tarps = scenario_with(
        vehicle("TRUCK-1", "DEPOT-A", 1000, 6), vehicle_types=RELOAD, holds={"DEPOT-B": ["TARP"]}
    )
    limited = build_problem(_pallets(order), tarps, NOW, PlanParams())
    assert anywhere.locations[:2] == ("DEPOT-A", "DEPOT-B")
    # Today's shift, which serves the water (tomorrow's may serve none of it).
    assert anywhere.duties[0].reload_nodes == (0, 1)
    assert limited.duties[0].reload_nodes == (0,)


def test_an_order_whose_goods_no_depot_holds_is_unserved_with_the_reason(
    order: OrderFactory, planner: Planner
) -> None:
    """A vehicle loads where it starts: water that its depot does not hold is not routed."""
    scenario = scenario_with(vehicle("TRUCK-1", "DEPOT-A", 1000, 6), holds={"DEPOT-A": ["TARP"]})
    planned = planner([order("w", "FOB-1", ("WATER-PAL", 1))], scenario)
    (unserved,) = planned.plan.unserved
    assert "holds WATER-PAL" in unserved.reason


def test_ruin_and_recreate_leaves_reloads_to_or_tools(order: OrderFactory) -> None:
    """The C search does not model reloads, so OR-Tools constructs those problems itself."""
    plain = build_problem(_pallets(order), _truck(), NOW, PlanParams())
    reloads = build_problem(_pallets(order), _truck(**RELOAD), NOW, PlanParams())
    assert sisr.applies(plain)
    assert not sisr.applies(reloads)


def test_a_plan_without_reloads_or_breaks_keeps_its_hash(reloading: Planned) -> None:
    """Empty reloads and breaks stay out of the hashed content, so older plans keep their hash."""
    (route,) = reloading.plan.routes
    plain = reloading.plan.model_copy(
        update={"routes": (route.model_copy(update={"reloads": ()}),)}
    )
    (content,) = plain.content()["routes"]
    assert "reloads" not in content and "breaks" not in content
    assert "reloads" in reloading.plan.content()["routes"][0]


def test_an_order_a_reloading_truck_has_no_time_for_says_time_binds(
    order: OrderFactory, planner: Planner
) -> None:
    """Due within three hours, not every pallet fits in the trips there is time for: with
    reloads it is time that binds, one trip per shift it is capacity."""
    by = NOW + timedelta(hours=3)
    orders = [
        order(k, place, ("WATER-PAL", 1), deliver_by=by)
        for k, place in (("a", "FOB-1"), ("b", "FOB-2"), ("c", "HOSP-1"), ("d", "FOB-1"))
    ]
    with_reloads = planner(orders, _truck(**RELOAD)).plan
    assert with_reloads.unserved
    assert all("time binds" in u.reason for u in with_reloads.unserved), with_reloads.unserved
    one_trip = planner(orders, _truck()).plan
    assert all("capacity binds" in u.reason for u in one_trip.unserved), one_trip.unserved


def test_a_truck_reloads_at_the_nearer_depot_that_holds_its_goods(
    order: OrderFactory, planner: Planner
) -> None:
    """Three pallets for an outpost beside depot B: the truck from depot A reloads at B, not
    back home; where B holds only tarps it goes back to A for the water."""
    by = NOW + timedelta(hours=14)
    orders = [order(k, "COP-B", ("WATER-PAL", 1), deliver_by=by) for k in ("x", "y", "z")]
    near = planner(orders, _truck(**RELOAD)).plan
    (route,) = near.routes
    assert [r.depot for r in route.reloads] == ["DEPOT-B", "DEPOT-B"]
    assert verify(near, _truck(**RELOAD), orders) == []
    tarps = scenario_with(
        vehicle("TRUCK-1", "DEPOT-A", 1000, 6), vehicle_types=RELOAD, holds={"DEPOT-B": ["TARP"]}
    )
    home = planner(orders, tarps).plan
    (route,) = home.routes
    assert [r.depot for r in route.reloads] == ["DEPOT-A", "DEPOT-A"]
    assert verify(home, tarps, orders) == []
    assert route.distance_km > near.routes[0].distance_km
