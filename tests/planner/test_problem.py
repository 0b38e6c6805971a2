"""build_problem: distances, demands, windows, shifts and penalties from orders and a scenario."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.orders import Priority
from services.common.scenario import Scenario
from services.planner.problem import (
    GreatCircleMatrix,
    PlanParams,
    build_problem,
    great_circle_m,
    shift_occurrences,
    travel_minutes,
)
from tests.planner.conftest import OrderFactory
from tests.planner.helpers import NOW


def test_great_circle_matches_a_known_distance() -> None:
    """One degree of latitude is about 111.2 km."""
    assert great_circle_m((35.0, 44.0), (36.0, 44.0)) == pytest.approx(111_195, rel=1e-3)


def test_matrix_applies_the_road_factor_in_whole_metres(tiny: Scenario) -> None:
    """Road distance is great-circle times the road factor, symmetric, zero on the diagonal."""
    pts = [(35.0, 44.0), (35.1, 44.0)]
    m = GreatCircleMatrix(1.3).matrix(pts)
    assert m[0][1] == m[1][0] == round(great_circle_m(*pts) * 1.3)
    assert m[0][0] == 0


def test_travel_minutes_round_up() -> None:
    """A drive of 1001 m at 60 km/h takes 2 whole minutes, never 1."""
    assert travel_minutes(1000, 60) == 1
    assert travel_minutes(1001, 60) == 2


def test_demands_round_up_and_skills_are_the_union(tiny: Scenario, order: OrderFactory) -> None:
    """Weight in kg and volume in litres round up; handling of all items becomes skills."""
    p = build_problem([order("o1", "FOB-1", ("FUEL", 3), ("VACCINE", 1))], tiny, NOW)
    job = p.jobs[0]
    assert job.weight_kg == 20  # 3 * 3.04 + 10 = 19.12
    assert job.volume_l == 62  # 3 * 3.785 + 50 = 61.355
    assert job.skills == {"hazmat", "cold_chain"}
    assert job.allowed == ()
    assert job.reason is not None
    assert "skills" in job.reason


def test_windows_count_minutes_from_the_floored_epoch(tiny: Scenario, order: OrderFactory) -> None:
    """not_before rounds up and deliver_by down, in minutes after now floored to the minute."""
    now = NOW + timedelta(seconds=42)
    o = order(
        "o1",
        "FOB-1",
        ("TARP", 1),
        not_before=NOW + timedelta(minutes=90, seconds=1),
        deliver_by=NOW + timedelta(hours=5, seconds=59),
    )
    p = build_problem([o], tiny, now)
    assert p.epoch == NOW
    assert p.jobs[0].window == (91, 300)


def test_open_window_runs_to_the_horizon(tiny: Scenario, order: OrderFactory) -> None:
    """An order without a window may be served any time the fleet works within the horizon."""
    p = build_problem([order("o1", "FOB-1", ("TARP", 1))], tiny, NOW)
    assert p.jobs[0].window == (0, p.horizon_min)
    assert p.horizon_min >= 48 * 60


def test_shift_under_way_starts_now(tiny: Scenario) -> None:
    """A shift already running starts at the epoch; the next days' shifts follow whole."""
    truck = tiny.fleet[0]
    assert shift_occurrences(truck, NOW.replace(hour=10), 48 * 60) == [
        (0, 600),
        (1200, 2040),
        (2640, 3480),
    ]


def test_shift_already_over_is_skipped(tiny: Scenario) -> None:
    """At 21:00 today's 06:00-20:00 shift is over; the first duty is tomorrow at 06:00."""
    truck = tiny.fleet[0]
    assert shift_occurrences(truck, NOW.replace(hour=21), 24 * 60)[0] == (540, 1380)


def test_penalties_rank_urgent_over_all_priority_over_all_routine(
    tiny: Scenario, order: OrderFactory
) -> None:
    """Urgent outweighs every priority order, which outweighs every routine one and all routes."""
    orders = [
        order(f"o{i}", "FOB-1", ("TARP", 1), priority=p)
        for i, p in enumerate([Priority.ROUTINE, Priority.PRIORITY, Priority.URGENT] * 3)
    ]
    p = build_problem(orders, tiny, NOW)
    pen = {job.priority: job.penalty for job in p.jobs}
    n = len(p.jobs)
    route_bound = (n + len(p.duties)) * max(max(r) for r in p.distance_m) + sum(
        d.fixed_cost for d in p.duties
    )
    assert pen[Priority.ROUTINE] > route_bound
    assert pen[Priority.PRIORITY] > n * pen[Priority.ROUTINE]
    assert pen[Priority.URGENT] > n * pen[Priority.PRIORITY]


def test_unknown_place_and_duplicates(tiny: Scenario, order: OrderFactory) -> None:
    """An unknown destination is set aside with a reason; a redelivered order is one job."""
    p = build_problem(
        [
            order("o1", "FOB-1", ("TARP", 1)),
            order("o1", "FOB-1", ("TARP", 1)),
            order("o2", "NOWHERE", ("TARP", 1)),
        ],
        tiny,
        NOW,
    )
    assert [job.order_id for job in p.jobs] == ["o1"]
    assert p.invalid[0][0] == "o2"
    assert "NOWHERE" in p.invalid[0][1]


def test_naive_now_is_refused(tiny: Scenario, order: OrderFactory) -> None:
    """A naive datetime is ambiguous, so building a problem with one fails loudly."""
    with pytest.raises(ValueError, match="timezone-aware"):
        build_problem([order("o1", "FOB-1", ("TARP", 1))], tiny, NOW.replace(tzinfo=None))


def test_later_shifts_cost_more(tiny: Scenario) -> None:
    """A vehicle's later shifts carry a fixed cost so the earliest shift is preferred."""
    p = build_problem([], tiny, NOW, PlanParams(later_shift_cost_m=7))
    truck = [d for d in p.duties if d.vehicle_id == "TRUCK-1"]
    assert [d.fixed_cost for d in truck] == [0, 7]  # 06:00 today and tomorrow
