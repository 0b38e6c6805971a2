"""Breaks and driving limits per vehicle type: planned by OR-Tools, checked by verification."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.orders import OrderParsed
from schemas.plans import Break, PlanProposed
from services.common.scenario import Scenario, load_scenario
from services.planner.verify import verify
from tests.planner.conftest import OrderFactory, Planned, Planner
from tests.planner.helpers import NOW, scenario_with, vehicle

REST = {"length_min": 45, "earliest": "09:00", "latest": "12:00"}


def _truck(**rules: object) -> Scenario:
    return scenario_with(vehicle("TRUCK-1", "DEPOT-A", 2000, 6), vehicle_types={"truck": rules})


def _spanning(order: OrderFactory) -> list[OrderParsed]:
    """One order before the break window and one after: the route spans the whole window."""
    return [
        order("early", "FOB-1", ("TARP", 1), deliver_by=NOW.replace(hour=9)),
        order("late", "FOB-2", ("TARP", 1), not_before=NOW.replace(hour=12, minute=30)),
    ]


@pytest.fixture
def resting(order: OrderFactory, planner: Planner) -> Planned:
    return planner(_spanning(order), _truck(**{"break": REST}))


def _rehash(plan: PlanProposed, **update: object) -> PlanProposed:
    changed = plan.model_copy(update=update)
    return changed.model_copy(update={"plan_hash": changed.computed_hash()})


def test_the_break_is_taken_within_its_window_between_stops(
    resting: Planned, order: OrderFactory
) -> None:
    """The crew rests 45 min between 09:00 and 12:00, off the road between its two stops."""
    (route,) = resting.plan.routes
    (rest,) = route.breaks
    assert rest.end - rest.start >= timedelta(minutes=45)
    assert NOW.replace(hour=9) <= rest.start and rest.end <= NOW.replace(hour=12)
    early, late = route.stops
    assert early.departure <= rest.start and rest.end <= late.arrival
    assert verify(resting.plan, _truck(**{"break": REST}), _spanning(order)) == []


def test_verification_rejects_a_missing_break(resting: Planned, order: OrderFactory) -> None:
    """The same route without its break is refused."""
    (route,) = resting.plan.routes
    bad = _rehash(resting.plan, routes=(route.model_copy(update={"breaks": ()}),))
    found = verify(bad, _truck(**{"break": REST}), _spanning(order))
    assert any("takes no 45 min break between 09:00 and 12:00" in v for v in found), found


def test_verification_rejects_a_break_outside_its_window(
    resting: Planned, order: OrderFactory
) -> None:
    """A break moved before 09:00 does not count as the break of the window."""
    (route,) = resting.plan.routes
    early = Break(start=NOW.replace(hour=7, minute=30), end=NOW.replace(hour=8, minute=15))
    bad = _rehash(resting.plan, routes=(route.model_copy(update={"breaks": (early,)}),))
    found = verify(bad, _truck(**{"break": REST}), _spanning(order))
    assert any("takes no 45 min break" in v for v in found), found


def test_verification_rejects_a_break_during_a_stop(resting: Planned, order: OrderFactory) -> None:
    """A break over the unloading of the late stop is not a rest."""
    (route,) = resting.plan.routes
    stop = route.stops[1]
    during = Break(start=stop.arrival, end=stop.arrival + timedelta(minutes=45))
    bad = _rehash(resting.plan, routes=(route.model_copy(update={"breaks": (during,)}),))
    found = verify(bad, _truck(**{"break": REST}), _spanning(order))
    assert any("overlaps a stop" in v for v in found), found


def test_a_short_route_may_rest_after_it_ends(order: OrderFactory, planner: Planner) -> None:
    """A route back before the window rests afterwards, within the window and its shift."""
    orders = [order("near", "FOB-1", ("TARP", 1), deliver_by=NOW.replace(hour=7))]
    planned = planner(orders, _truck(**{"break": REST}))
    (route,) = planned.plan.routes
    (rest,) = route.breaks
    assert route.end <= rest.start and rest.end <= NOW.replace(hour=12)
    assert verify(planned.plan, _truck(**{"break": REST}), orders) == []


def test_a_driving_limit_leaves_a_far_order_unserved(order: OrderFactory, planner: Planner) -> None:
    """A round trip longer than the type may drive in a shift is unserved, and says so."""
    planned = planner([order("far", "FOB-1", ("TARP", 1))], _truck(max_drive_min=20))
    assert planned.plan.routes == ()
    (unserved,) = planned.plan.unserved
    assert "20 min allowed" in unserved.reason


def test_verification_rejects_a_route_over_its_driving_limit(
    order: OrderFactory, planner: Planner
) -> None:
    """A route planned without a limit is refused once its type may drive only 20 min."""
    orders = [order("o", "FOB-1", ("TARP", 1)), order("p", "FOB-2", ("TARP", 1))]
    planned = planner(orders, _truck())
    assert verify(planned.plan, _truck(), orders) == []
    found = verify(planned.plan, _truck(max_drive_min=20), orders)
    assert any("at most 20 min allowed" in v for v in found), found


def test_the_driving_limit_binds_the_search(order: OrderFactory, planner: Planner) -> None:
    """Two orders due today that fit the limit one at a time but not together: one is served."""
    by = NOW + timedelta(hours=12)
    orders = [
        order("o", "FOB-1", ("TARP", 1), deliver_by=by),
        order("p", "FOB-2", ("TARP", 1), deliver_by=by),
    ]
    free = planner(orders, _truck())
    (route,) = free.plan.routes
    driven = sum(
        (b.arrival - a.departure for a, b in zip(route.stops, route.stops[1:], strict=False)),
        route.stops[0].arrival - route.start,
    ) + (route.end - route.stops[-1].departure)
    limit = int(driven.total_seconds() // 60) - 1
    limited = planner(orders, _truck(max_drive_min=limit))
    assert sum(len(r.stops) for r in limited.plan.routes) == 1
    assert verify(limited.plan, _truck(max_drive_min=limit), orders) == []


def test_existing_scenarios_have_no_rules() -> None:
    """The demo scenario loads as before: no vehicle type has reloads, breaks or limits."""
    loaded = load_scenario("deploy/scenarios/demo.yaml")
    for v in loaded.scenario.fleet:
        rules = loaded.scenario.rules(v)
        assert (rules.reload_min, rules.break_, rules.max_drive_min) == (None, None, None)


def test_rules_must_name_a_type_of_the_fleet() -> None:
    """A vehicle type nobody in the fleet has is a typo, refused with its name."""
    with pytest.raises(ValueError, match="'lorry', the type of no vehicle"):
        scenario_with(vehicle("T", "DEPOT-A", 1, 1), vehicle_types={"lorry": {"reload_min": 5}})


def test_a_scenario_with_rules_stays_hashable() -> None:
    """Scenarios are frozen and hashable, rules and stock lists included."""
    ruled = scenario_with(
        vehicle("T", "DEPOT-A", 1, 1),
        vehicle_types={"truck": {"reload_min": 5, "break": REST}},
        holds={"DEPOT-A": ["TARP"]},
    )
    assert hash(ruled) == hash(ruled.model_copy())


def test_a_vehicle_type_is_listed_once() -> None:
    """Two rule sets for one type would leave it open which applies: refused."""
    with pytest.raises(ValueError, match="duplicate vehicle type 'truck'"):
        Scenario.model_validate(
            _truck().model_dump(by_alias=True)
            | {"vehicle_types": [{"type": "truck"}, {"type": "truck", "reload_min": 5}]}
        )


def test_a_break_must_fit_its_window() -> None:
    """A 45 min break cannot lie within a 30 min window."""
    short = {"length_min": 45, "earliest": "09:00", "latest": "09:30"}
    with pytest.raises(ValueError, match="does not fit between 09:00 and 09:30"):
        _truck(**{"break": short})


def test_only_depots_hold_goods() -> None:
    """A stock list on a FOB is refused: only depots load vehicles."""
    with pytest.raises(ValueError, match="only a depot holds goods"):
        scenario_with(vehicle("T", "DEPOT-A", 1, 1), holds={"FOB-1": ["TARP"]})
