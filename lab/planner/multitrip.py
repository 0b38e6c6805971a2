"""Multi-trip instances generated from Solomon's: small trucks that may reload at the depot.

No public multi-trip set with time windows is in ../shared/bench, so these are made here and
stated as such: the instance's customers, windows and service times; its best-known fleet
(bks.csv, else the file's); a quarter of its capacity; the depot's window as the shift (on
Solomon's type-1 files a short one); a reload at the depot takes the mean service time. Each
instance is solved twice, one trip per vehicle and with reloads, and both are re-checked here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import TYPE_CHECKING

from lab.planner.bench import SCALE, Bks, Instance, arc, route_distance, to_problem
from services.planner.problem import Problem

if TYPE_CHECKING:  # result types only; this module must not load OR-Tools
    from services.planner.solver import Solution

# A quarter of the capacity: a truckload serves about a quarter of a Solomon route.
CAPACITY_SHARE = 0.25


@dataclass(frozen=True)
class MultiTrip:
    """A Solomon instance made multi-trip: smaller trucks, a reload time at the depot."""

    instance: Instance
    capacity: int
    vehicles: int
    reload: int  # in the instance's time units

    def problem(self, reloads: bool) -> Problem:
        """The planner's problem: one trip per vehicle, or reloading at the depot."""
        one_trip = to_problem(
            replace(self.instance, capacity=self.capacity, vehicles=self.vehicles)
        )
        if not reloads:
            return one_trip
        minutes = self.reload * SCALE[self.instance.convention]
        duties = tuple(replace(d, reload_min=minutes, reload_nodes=(0,)) for d in one_trip.duties)
        return replace(one_trip, duties=duties)


def multi_trip(instance: Instance, bks: Bks | None) -> MultiTrip:
    """The multi-trip variant of a single-depot instance with time windows."""
    if instance.windows is None or instance.depots != 1 or instance.pairs:
        raise ValueError(f"{instance.name}: multi-trip variants are made from Solomon files")
    customers = instance.service[1:]
    return MultiTrip(
        instance=instance,
        capacity=math.ceil(instance.capacity * CAPACITY_SHARE),
        vehicles=bks.vehicles if bks and bks.vehicles else instance.vehicles,
        reload=round(sum(customers) / len(customers)),
    )


@dataclass(frozen=True)
class Trips:
    """One vehicle's route: customer nodes per trip, each trip loaded at the depot."""

    trips: tuple[tuple[int, ...], ...]


def trips_of(problem: Problem, solution: Solution) -> list[Trips]:
    """The solution's routes split into trips at their reloads."""
    out = []
    for tour in solution.tours:
        nodes = [problem.jobs[v.job].node for v in tour.visits]
        bounds = [0, *(r.after for r in tour.reloads), len(nodes)]
        out.append(Trips(tuple(tuple(nodes[a:b]) for a, b in pairwise(bounds))))
    return out


def check_trips(mt: MultiTrip, routes: Sequence[Trips]) -> list[str]:
    """Every rule the routes break: a customer twice, a fleet too large, a trip over the
    capacity, a window missed (reloads taking their time), a return after the depot closes."""
    inst, scale = mt.instance, SCALE[mt.instance.convention]
    seen = Counter(c for r in routes for trip in r.trips for c in trip)
    found = [f"customer {c} is visited {n} times" for c, n in seen.items() if n > 1]
    if len(routes) > mt.vehicles:
        found.append(f"{len(routes)} routes exceed the fleet of {mt.vehicles}")
    assert inst.windows is not None  # multi_trip refuses instances without windows
    for k, route in enumerate(routes):
        clock, here = float(inst.windows[0][0] * scale), 0
        for t, trip in enumerate(route.trips):
            load = sum(inst.demand[c] for c in trip)
            if load > mt.capacity:
                found.append(f"route {k} trip {t + 1} carries {load} > {mt.capacity}")
            if t:  # back to the depot, then the reload
                clock += inst.service[here] * scale + arc(inst, here, 0) + mt.reload * scale
                here = 0
            for c in trip:
                opens, closes = (x * scale for x in inst.windows[c])
                clock = max(clock + inst.service[here] * scale + arc(inst, here, c), opens)
                if clock > closes:
                    found.append(f"route {k} reaches {c} at {clock / scale} > due {closes / scale}")
                here = c
        back = clock + inst.service[here] * scale + arc(inst, here, 0)
        if back > inst.windows[0][1] * scale:
            found.append(f"route {k} returns at {back / scale} after the depot closes")
    return found


def trips_distance(mt: MultiTrip, routes: Sequence[Trips]) -> float:
    """Total distance, each trip from the depot and back."""
    return route_distance(mt.instance, [trip for r in routes for trip in r.trips])


@dataclass(frozen=True)
class MultiTripResult:
    """One multi-trip instance solved one trip per vehicle and with reloads."""

    instance: str
    customers: int
    vehicles: int
    capacity: int
    reload: int
    served_one_trip: int
    served: int
    reloads: int
    distance: float
    seconds: float
    feasible: bool
    problems: tuple[str, ...]


def evaluate_multi_trip(
    mt: MultiTrip, solve: Callable[[Problem], Solution], clock: Callable[[], float]
) -> MultiTripResult:
    """Solve both ways, re-check both, count who is served."""
    one = mt.problem(reloads=False)
    single = trips_of(one, solve(one))
    problem = mt.problem(reloads=True)
    started = clock()
    solution = solve(problem)
    seconds = clock() - started
    multi = trips_of(problem, solution)
    problems = tuple(check_trips(mt, single) + check_trips(mt, multi))
    return MultiTripResult(
        instance=mt.instance.name,
        customers=len(mt.instance.demand) - 1,
        vehicles=mt.vehicles,
        capacity=mt.capacity,
        reload=mt.reload,
        served_one_trip=sum(len(trip) for r in single for trip in r.trips),
        served=sum(len(trip) for r in multi for trip in r.trips),
        reloads=sum(len(r.trips) - 1 for r in multi),
        distance=trips_distance(mt, multi),
        seconds=seconds,
        feasible=not problems,
        problems=problems,
    )
