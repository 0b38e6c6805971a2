"""Unserved reasons name the relaxation that would serve the order, found counterfactually."""

from __future__ import annotations

from datetime import timedelta

from schemas.orders import Priority
from services.common.scenario import Scenario
from services.planner.plan import EXHAUSTED
from tests.planner.conftest import OrderFactory, Planned, Planner
from tests.planner.helpers import NOW, scenario_with, vehicle


def _reasons(run: Planned) -> dict[str, str]:
    return {u.order_id: u.reason for u in run.plan.unserved}


def test_skill_nobody_has_names_who_would_need_it(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """Nobody has 'secure'; every vehicle could carry the radio in time if it had it."""
    reasons = _reasons(planner([order("r", "FOB-1", ("RADIO", 1))], tiny))
    assert reasons["r"] == (
        "no vehicle has the required skills (secure); no vehicle in the fleet has secure; "
        "it would be served if TRUCK-1 (truck), FUEL-1 (truck) or REEF-1 (truck) also had secure"
    )


def test_skills_split_across_vehicles_name_the_one_missing(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """Vaccine and fuel together: the reefer lacks only hazmat, the fuel truck only cold_chain."""
    reasons = _reasons(planner([order("v", "FOB-1", ("VACCINE", 1), ("FUEL", 1))], tiny))
    assert "no vehicle in the fleet" not in reasons["v"]
    assert reasons["v"].startswith("no vehicle has the required skills (cold_chain, hazmat)")
    assert "it would be served if" in reasons["v"]
    assert "REEF-1 (truck) also had hazmat" in reasons["v"] or "FUEL-1" in reasons["v"]


def test_too_heavy_says_how_many_loads_would_fit(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """3800 kg against a largest capable 3000 kg truck: two loads would fit."""
    reasons = _reasons(planner([order("heavy", "FOB-1", ("WATER-PAL", 4))], tiny))
    assert reasons["heavy"] == (
        "heavier or bulkier than any capable vehicle (3800 kg, 6.00 m3); the largest capable "
        "vehicle, FUEL-1 (truck), takes 3000 kg and 5.00 m3, so it would fit split into "
        "2 loads of at most that"
    )


def test_unreachable_window_names_the_deliver_by_it_needs(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """Far camp by 07:00: the truck from depot A, leaving at 06:00, first gets there at 12:12."""
    late = order("late", "FAR-1", ("TARP", 1), deliver_by=NOW + timedelta(hours=2))
    reasons = _reasons(planner([late], tiny))
    assert reasons["late"] == (
        "delivery window unreachable from every capable depot within shifts; the earliest "
        "arrival is 2026-11-23 12:12Z from DEPOT-A by TRUCK-1 (truck), so extend deliver_by "
        "to at least 2026-11-23 12:12Z"
    )


def test_closed_window_also_names_the_deliver_by_it_needs(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """A deliver_by already past still gets the earliest achievable arrival."""
    closed = order("closed", "FOB-1", ("TARP", 1), deliver_by=NOW - timedelta(hours=1))
    reason = _reasons(planner([closed], tiny))["closed"]
    assert reason.startswith("delivery window is already closed")
    assert reason.endswith("so extend deliver_by to at least 2026-11-23 06:15Z")


def test_shift_too_short_for_the_round_trip_says_so(order: OrderFactory, planner: Planner) -> None:
    """A one-hour shift can never reach the far camp and come back."""
    short = scenario_with(vehicle("TRUCK-1", "DEPOT-A", 2000, 6, shift=("06:00", "07:00")))
    reason = _reasons(planner([order("far", "FAR-1", ("TARP", 1))], short))["far"]
    assert reason.startswith("delivery window unreachable from every capable depot")
    assert "the round trip from the nearest capable depot, DEPOT-A, takes" in reason
    assert reason.endswith("the longest remaining shift is 60 min")


def test_exhausted_capacity_binds(
    one_truck: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """Three pallets, one 1000 kg truck today: capacity binds; another truck would serve it."""
    by = NOW + timedelta(hours=12)
    orders = [
        order("a", "FOB-1", ("WATER-PAL", 1), deliver_by=by),
        order("z", "HOSP-1", ("WATER-PAL", 1), priority=Priority.URGENT, deliver_by=by),
    ]
    reasons = _reasons(planner(orders, one_truck))
    assert reasons == {
        "a": f"{EXHAUSTED}: capacity binds, orders competing for the 1 vehicle shift that could "
        "serve it need 1900 kg of 1000 kg; one more vehicle like TRUCK-1 (truck) at DEPOT-A "
        "would serve it"
    }


def test_exhausted_time_binds(one_truck: Scenario, order: OrderFactory, planner: Planner) -> None:
    """Two tarps due at two places in the same five minutes: room enough, time is short."""
    nb = NOW.replace(hour=10)
    window = {"not_before": nb, "deliver_by": nb + timedelta(minutes=5)}
    orders = [
        order("a", "FOB-1", ("TARP", 1), **window),
        order("b", "FOB-2", ("TARP", 1), priority=Priority.URGENT, **window),
    ]
    reasons = _reasons(planner(orders, one_truck))
    assert reasons == {
        "a": f"{EXHAUSTED}: time binds, 1 of the 1 vehicle shift that could serve it has room "
        "for its 2 kg but no time left within shifts and windows; one more vehicle like "
        "TRUCK-1 (truck) at DEPOT-A would serve it"
    }


def test_too_heavy_and_too_late_says_the_split_alone_is_not_enough(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """Four pallets to the far camp within two hours: splitting fits, but nobody gets there."""
    both = order("hl", "FAR-1", ("WATER-PAL", 4), deliver_by=NOW + timedelta(hours=2))
    reason = _reasons(planner([both], tiny))["hl"]
    assert reason.startswith("heavier or bulkier than any capable vehicle (3800 kg, 6.00 m3)")
    assert reason.endswith(
        "split into 2 loads of at most that, though no capable vehicle reaches it in its window"
    )
