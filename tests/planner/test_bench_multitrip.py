"""The multi-trip bench: variants of Solomon instances, one trip against reloads, re-checked."""

from __future__ import annotations

from dataclasses import replace

from lab.planner.bench import Instance
from lab.planner.multitrip import MultiTrip, Trips, check_trips, evaluate_multi_trip, multi_trip
from services.planner.solver import SolveParams, solve

# Four customers of 10 around a depot open long enough for several trips of one truck.
TINY = Instance(
    name="TINY-MT",
    set="solomon",
    convention="dimacs_trunc1",
    coords=((0, 0), (3, 0), (0, 3), (-3, 0), (0, -3)),
    demand=(0, 10, 10, 10, 10),
    capacity=80,
    vehicles=1,
    windows=((0, 500), (0, 500), (0, 500), (0, 500), (0, 500)),
    service=(0, 10, 10, 10, 10),
)


def test_a_variant_has_a_quarter_of_the_capacity_and_the_mean_service_as_reload() -> None:
    """80 becomes 20 (two customers a trip); the reload takes the mean service time, 10."""
    mt = multi_trip(TINY, None)
    assert (mt.capacity, mt.vehicles, mt.reload) == (20, 1, 10)


def test_reloads_serve_what_one_trip_cannot() -> None:
    """One trip serves two of the four customers; with reloads the truck serves all four."""
    result = evaluate_multi_trip(
        multi_trip(TINY, None), lambda p: solve(p, SolveParams(time_limit_s=0.5)), lambda: 0.0
    )
    assert (result.served_one_trip, result.served, result.reloads) == (2, 4, 1)
    assert result.feasible, result.problems


def test_the_re_check_refuses_an_overloaded_trip_and_a_late_return() -> None:
    """Three customers on one trip exceed 20; a depot closing at 10 cannot see them back."""
    mt = multi_trip(TINY, None)
    assert check_trips(mt, [Trips(((1, 2), (3, 4)))]) == []
    assert any("carries 30 > 20" in p for p in check_trips(mt, [Trips(((1, 2, 3), (4,)))]))
    closing = MultiTrip(
        instance=replace(TINY, windows=((0, 10), *TINY.windows[1:])),
        capacity=20,
        vehicles=1,
        reload=10,
    )
    assert any("after the depot closes" in p for p in check_trips(closing, [Trips(((1, 2),))]))
