"""Benchmark instances (Solomon, Homberger, CVRPLIB X, Li & Lim, Cordeau): read, solve, score.

Li & Lim, Cordeau and their JSON best-knowns are read in `lab.planner.formats`.
"""

from __future__ import annotations

import csv
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lab.planner.formats import Bks as Bks  # re-exported: importers use bench's names
from lab.planner.formats import Instance as Instance
from lab.planner.formats import read_cordeau, read_li_lim
from lab.planner.formats import read_json_bks as read_json_bks
from schemas.orders import Priority
from services.planner.problem import (
    Customers,
    Duty,
    Job,
    Problem,
    customers_problem,
    drop_penalties,
)

if TYPE_CHECKING:  # result types only; this module must not load OR-Tools
    from services.planner.solver import Solution

# Integer units per unit of distance: one decimal kept exactly (DIMACS), or nearest integer;
# exact double distances are re-checked as they are.
SCALE = {"dimacs_trunc1": 10, "tsplib_nint": 1, "exact_double": 1}
# The solver's integer units: exact distances go in hundredths, travel times rounded up so a
# schedule the solver finds feasible is feasible in exact arithmetic too.
_SOLVE_SCALE = {"dimacs_trunc1": 10, "tsplib_nint": 1, "exact_double": 100}
# Float noise allowed when re-checking exact double times.
_TOL = 1e-6
# Guards float noise in floor(); a true distance is never this close below an integer.
_EPS = 1e-9


@dataclass(frozen=True)
class Result:
    """One benchmark run: what came back, re-checked and scored."""

    instance: str
    set: str
    vehicles: int
    distance: float
    bks: float | None
    gap_pct: float | None
    seconds: float
    feasible: bool
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Routes:
    """Another solver's answer in the bench's form: customer nodes per route, each route's depot."""

    routes: tuple[tuple[int, ...], ...]
    depots: tuple[int, ...]


@dataclass(frozen=True)
class Fleet:
    """Identical duties of a benchmark problem: how many, from which depot node, when, how much."""

    depot: int
    start: int
    end: int
    capacity: int
    count: int


def fleets(problem: Problem) -> list[Fleet]:
    """The problem's duties grouped into identical vehicles, in the order they first appear."""
    groups = Counter((d.node, d.start_min, d.end_min, d.capacity_kg) for d in problem.duties)
    return [Fleet(*key, count) for key, count in groups.items()]


def require_plain(problem: Problem) -> None:
    """Refuse what the other solvers' adapters do not translate (nothing a benchmark set uses)."""
    every = tuple(range(len(problem.duties)))
    found = [
        name
        for name, used in (
            ("given travel times", problem.travel_min is None),
            ("locks", bool(problem.locks or problem.locked)),
            ("fixed costs", any(d.fixed_cost for d in problem.duties)),
            ("volumes", any(d.capacity_l for d in problem.duties)),
            (
                "skills",
                any(d.skills for d in problem.duties) or any(j.skills for j in problem.jobs),
            ),
            ("soft windows", any(j.due_min is not None for j in problem.jobs)),
            ("restricted duties", any(j.allowed != every for j in problem.jobs)),
            (
                "pairs of unequal amounts",
                any(
                    problem.jobs[p].weight_kg != -problem.jobs[d].weight_kg
                    for p, d in problem.pairs
                ),
            ),
        )
        if used
    ]
    if found:
        raise ValueError(f"not a benchmark problem ({', '.join(found)}); use the planner's solver")


def instance_paths(paths: Iterable[Path]) -> list[Path]:
    """Instance files named directly or found in the given folders, sorted within each folder."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in (".txt", ".vrp"))
        else:
            found.append(path)
    return found


def read_bks(path: Path) -> dict[str, Bks]:
    """Distance-objective rows of bks.csv, keyed by lower-case instance name."""
    out: dict[str, Bks] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["convention"] not in SCALE:
                continue
            out[row["instance"].lower()] = Bks(
                instance=row["instance"],
                set=row["set"],
                convention=row["convention"],
                vehicles=int(row["vehicles"]) if row["vehicles"] else None,
                distance=float(row["distance"]),
            )
    return out


def read_instance(path: Path, bks: dict[str, Bks] | None = None) -> Instance:
    """A Solomon/Homberger, Li & Lim or Cordeau text file or a CVRPLIB .vrp file, by content."""
    known = (bks or {}).get(path.stem.lower())
    if path.suffix.lower() == ".vrp":
        return _cvrp(path, known)
    head = path.read_text().split("\n", 1)[0].split()
    if len(head) == 3:
        return read_li_lim(path, known)
    if len(head) == 4:
        return read_cordeau(path, known)
    return _solomon(path, known)


def _vrplib() -> Any:
    """The instance reader of the bench extra, imported when an instance is read (so `qm`
    starts without it), with what to do when it is missing."""
    try:
        import vrplib  # type: ignore[import-untyped]  # ships no type information
    except ImportError as err:
        raise RuntimeError(
            "reading benchmark instances needs vrplib (the bench extra): run `make setup-bench`"
        ) from err
    return vrplib


def _solomon(path: Path, known: Bks | None) -> Instance:
    raw: dict[str, Any] = _vrplib().read_instance(
        str(path), instance_format="solomon", compute_edge_weights=False
    )
    customers = len(raw["demand"]) - 1
    return Instance(
        name=known.instance if known else path.stem,
        set=known.set if known else ("solomon" if customers <= 100 else f"homberger_{customers}"),
        convention="dimacs_trunc1",
        coords=tuple((float(x), float(y)) for x, y in raw["node_coord"]),
        demand=tuple(int(d) for d in raw["demand"]),
        capacity=int(raw["capacity"]),
        vehicles=int(raw["vehicles"]),
        windows=tuple((int(a), int(b)) for a, b in raw["time_window"]),
        service=tuple(int(s) for s in raw["service_time"]),
    )


def _cvrp(path: Path, known: Bks | None) -> Instance:
    raw: dict[str, Any] = _vrplib().read_instance(str(path), compute_edge_weights=False)
    depot = int(raw.get("depot", np.array([0]))[0])
    if depot != 0:
        raise ValueError(f"{path}: depot must be the first node; reorder the file")
    demand = tuple(int(d) for d in raw["demand"])
    capacity = int(raw["capacity"])
    # The fleet is unlimited; a fifth above the bin-packing bound leaves room without bloat.
    bound = math.ceil(sum(demand) / capacity)
    return Instance(
        name=known.instance if known else path.stem,
        set=known.set if known else "cvrplib_x",
        convention="tsplib_nint",
        coords=tuple((float(x), float(y)) for x, y in raw["node_coord"]),
        demand=demand,
        capacity=capacity,
        vehicles=bound + max(2, math.ceil(bound * 0.2)),
        windows=None,
        service=(0,) * len(demand),
        fleet_fixed=False,
    )


def arc(instance: Instance, i: int, j: int) -> float:
    """Distance from node i to node j in units of the convention (integer unless exact)."""
    (xi, yi), (xj, yj) = instance.coords[i], instance.coords[j]
    exact = math.hypot(xi - xj, yi - yj)
    if instance.convention == "exact_double":
        return exact
    if instance.convention == "dimacs_trunc1":
        return math.floor(exact * 10 + _EPS)
    return math.floor(exact + 0.5)


def matrix(instance: Instance) -> tuple[tuple[int, ...], ...]:
    """All arcs at once (vectorised; `arc` is the scalar reference the re-check uses)."""
    xy = np.asarray(instance.coords, dtype=np.float64)
    exact = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    if instance.convention == "dimacs_trunc1":
        scaled = np.floor(exact * 10 + _EPS)
    else:
        scaled = np.floor(exact + 0.5)
    return tuple(tuple(row) for row in scaled.astype(np.int64).tolist())


def to_problem(instance: Instance) -> Problem:
    """The planner's problem for an instance; travel time equals distance, as the sets define."""
    if instance.convention == "exact_double":
        return _general_problem(instance)
    dist = matrix(instance)
    scale = SCALE[instance.convention]
    if instance.windows is None:
        # No windows: a horizon no route can exceed, so time never binds.
        horizon = sum(max(row) for row in dist) + 1
        windows = ((0, horizon),) * len(instance.demand)
    else:
        windows = tuple((a * scale, b * scale) for a, b in instance.windows)
    customers = Customers(
        distance=dist,
        travel=dist,
        demand=instance.demand,
        windows=windows,
        service=tuple(s * scale for s in instance.service),
        capacity=instance.capacity,
        vehicles=instance.vehicles,
    )
    return customers_problem(customers)


def _general_problem(instance: Instance) -> Problem:
    """Several depots, pickup-delivery pairs or a duration limit, in hundredths of a unit."""
    scale, t, n = _SOLVE_SCALE[instance.convention], instance.depots, len(instance.demand)
    exact = [
        [math.hypot(a[0] - b[0], a[1] - b[1]) * scale for b in instance.coords]
        for a in instance.coords
    ]
    dist = tuple(tuple(round(d) for d in row) for row in exact)
    travel = tuple(tuple(math.ceil(d) for d in row) for row in exact)
    service = tuple(s * scale for s in instance.service)
    if instance.windows is None:
        horizon = sum(max(row) for row in travel) + sum(service) + 1
        windows = ((0, horizon),) * n
    else:
        windows = tuple((a * scale, b * scale) for a, b in instance.windows)
        horizon = max(b for _, b in windows)
    duties = tuple(
        Duty(
            f"D{d}V{v}",
            str(d),
            d,
            windows[d][0],
            _duty_end(instance, windows[d], scale),
            instance.capacity,
            0,
            frozenset(),
            1.0,
            0,
        )
        for d in range(t)
        for v in range(instance.vehicles)
    )
    penalty = drop_penalties(n - t, duties, dist)[Priority.ROUTINE]
    every = tuple(range(len(duties)))
    jobs = tuple(
        Job(
            str(k),
            k,
            str(k),
            Priority.ROUTINE,
            instance.demand[k],
            0,
            frozenset(),
            windows[k],
            service[k],
            penalty,
            every,
            None,
        )
        for k in range(t, n)
    )
    return Problem(
        epoch=datetime(2000, 1, 1, tzinfo=UTC),
        horizon_min=horizon,
        locations=tuple(str(k) for k in range(n)),
        distance_m=dist,
        service_min=service,
        duties=duties,
        jobs=jobs,
        travel_min=travel,
        pairs=tuple((p - t, d - t) for p, d in instance.pairs),
    )


def _duty_end(instance: Instance, window: tuple[int, int], scale: int) -> int:
    if instance.max_duration is None:
        return window[1]
    return min(window[1], window[0] + instance.max_duration * scale)


def routes_of(problem: Problem, solution: Solution) -> list[list[int]]:
    """The solution's non-empty routes as customer node lists."""
    return [[problem.jobs[v.job].node for v in tour.visits] for tour in solution.tours]


def depots_of(problem: Problem, solution: Solution) -> list[int]:
    """The depot node of each of the solution's routes, in the order of routes_of."""
    return [problem.duties[tour.duty].node for tour in solution.tours]


def route_distance(
    instance: Instance, routes: Sequence[Sequence[int]], depots: Sequence[int] | None = None
) -> float:
    """Total distance of depot-to-depot routes under the instance's convention."""
    starts = depots or [0] * len(routes)
    units = sum(
        arc(instance, a, b)
        for r, depot in zip(routes, starts, strict=True)
        if r
        for a, b in pairwise([depot, *r, depot])
    )
    return units / SCALE[instance.convention]


def check(
    instance: Instance, routes: Sequence[Sequence[int]], depots: Sequence[int] | None = None
) -> list[str]:
    """Every rule the routes break (coverage, fleet, capacity, pairs, windows, duration)."""
    starts = list(depots or [0] * len(routes))
    customers = range(instance.depots, len(instance.demand))
    seen = Counter(c for route in routes for c in route)
    found = [f"customer {c} is visited {n} times" for c, n in seen.items() if n > 1]
    found += [f"customer {c} is not visited" for c in customers if c not in seen]
    found += [f"node {c} is not a customer" for c in seen if c not in customers]
    found += [
        f"route {k} starts at {d}, not a depot"
        for k, d in enumerate(starts)
        if not 0 <= d < instance.depots
    ]
    if found:
        return found
    used = [(route, depot) for route, depot in zip(routes, starts, strict=True) if route]
    for depot, count in Counter(depot for _, depot in used).items():
        if instance.fleet_fixed and count > instance.vehicles:
            found.append(f"{count} routes exceed the fleet of {instance.vehicles} at depot {depot}")
    for k, (route, depot) in enumerate(used):
        peak = max(_prefix_loads(instance, route))
        if peak > instance.capacity:
            found.append(f"route {k} carries {peak} > capacity {instance.capacity}")
        found += _pairs(instance, k, route)
        found += _late(instance, k, route, depot)
    return found


def _prefix_loads(instance: Instance, route: Sequence[int]) -> list[int]:
    """The load after each stop: pickups add, deliveries (negative demand) unload."""
    loads, load = [], 0
    for c in route:
        load += instance.demand[c]
        loads.append(load)
    return loads


def _pairs(instance: Instance, k: int, route: Sequence[int]) -> list[str]:
    where = {c: i for i, c in enumerate(route)}
    found = []
    for p, d in instance.pairs:
        if (p in where) != (d in where):
            found.append(f"route {k} serves only one of pickup {p} and its delivery {d}")
        elif p in where and where[p] > where[d]:
            found.append(f"route {k} delivers {d} before its pickup {p}")
    if min(_prefix_loads(instance, route), default=0) < 0:
        found.append(f"route {k} delivers more than it picked up")
    return found


def _late(instance: Instance, k: int, route: Sequence[int], depot: int = 0) -> list[str]:
    scale = SCALE[instance.convention]
    found = []
    if instance.windows is None:
        clock = 0.0
        for a, b in pairwise([depot, *route, depot]):
            clock += instance.service[a] * scale + arc(instance, a, b)
        limit = instance.max_duration
        if limit is not None and clock > limit * scale + _TOL:
            found.append(f"route {k} lasts {clock / scale} > limit {limit}")
        return found
    clock = instance.windows[depot][0] * scale
    for a, b in pairwise([depot, *route, depot]):
        opens, closes = (t * scale for t in instance.windows[b])
        start = max(clock + instance.service[a] * scale + arc(instance, a, b), opens)
        if start > closes + _TOL:
            found.append(f"route {k} reaches node {b} at {start / scale} > due {closes / scale}")
        clock = start
    return found


def gap_pct(distance: float, bks: Bks | None) -> float | None:
    """Gap to the best-known distance in percent, or None when no BKS is listed."""
    return None if bks is None else (distance - bks.distance) / bks.distance * 100


def evaluate(
    instance: Instance, bks: Bks | None, solver: Callable[[Problem], Solution | Routes]
) -> Result:
    """Solve an instance with the given solver call, re-check the routes and score them."""
    started = time.monotonic()
    problem = to_problem(instance)
    solution = solver(problem)
    seconds = time.monotonic() - started
    if isinstance(solution, Routes):  # another solver's answer
        routes, depots = [list(r) for r in solution.routes], list(solution.depots)
    else:
        routes, depots = routes_of(problem, solution), depots_of(problem, solution)
    problems = tuple(check(instance, routes, depots))
    distance = route_distance(instance, routes, depots)
    return Result(
        instance=instance.name,
        set=instance.set,
        vehicles=len(routes),
        distance=distance,
        bks=bks.distance if bks else None,
        gap_pct=gap_pct(distance, bks),
        seconds=seconds,
        feasible=not problems,
        problems=problems,
    )


def mean_gaps(results: Iterable[Result]) -> dict[str, float]:
    """Mean gap per set over the results that have a BKS."""
    by_set: dict[str, list[float]] = {}
    for r in results:
        if r.gap_pct is not None:
            by_set.setdefault(r.set, []).append(r.gap_pct)
    return {name: sum(gaps) / len(gaps) for name, gaps in sorted(by_set.items())}
