"""Benchmark instances (Solomon, Gehring-Homberger, CVRPLIB X): read, convert, re-check, score."""

from __future__ import annotations

import csv
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import vrplib  # type: ignore[import-untyped]  # ships no type information

from services.planner.problem import Customers, Problem, customers_problem

if TYPE_CHECKING:  # result types only; this module must not load OR-Tools
    from services.planner.solver import Solution

# Integer units per unit of distance: one decimal kept exactly (DIMACS), or nearest integer.
SCALE = {"dimacs_trunc1": 10, "tsplib_nint": 1}
# Guards float noise in floor(); a true distance is never this close below an integer.
_EPS = 1e-9


@dataclass(frozen=True)
class Instance:
    """One benchmark instance in its own units; node 0 is the depot."""

    name: str
    set: str
    convention: str
    coords: tuple[tuple[float, float], ...]
    demand: tuple[int, ...]
    capacity: int
    vehicles: int
    windows: tuple[tuple[int, int], ...] | None
    service: tuple[int, ...]


@dataclass(frozen=True)
class Bks:
    """The best-known distance of an instance under its set's distance convention."""

    instance: str
    set: str
    convention: str
    vehicles: int | None
    distance: float


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
    """A Solomon/Homberger text file or a CVRPLIB .vrp file, labelled by bks.csv when listed."""
    known = (bks or {}).get(path.stem.lower())
    if path.suffix.lower() == ".vrp":
        return _cvrp(path, known)
    return _solomon(path, known)


def _solomon(path: Path, known: Bks | None) -> Instance:
    raw: dict[str, Any] = vrplib.read_instance(
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
    raw: dict[str, Any] = vrplib.read_instance(str(path), compute_edge_weights=False)
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
    )


def arc(instance: Instance, i: int, j: int) -> int:
    """Distance from node i to node j in integer units of the instance's convention."""
    (xi, yi), (xj, yj) = instance.coords[i], instance.coords[j]
    exact = math.hypot(xi - xj, yi - yj)
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


def routes_of(problem: Problem, solution: Solution) -> list[list[int]]:
    """The solution's non-empty routes as customer node lists."""
    return [[problem.jobs[v.job].node for v in tour.visits] for tour in solution.tours]


def route_distance(instance: Instance, routes: Sequence[Sequence[int]]) -> float:
    """Total distance of depot-to-depot routes under the instance's convention."""
    units = sum(arc(instance, a, b) for r in routes if r for a, b in pairwise([0, *r, 0]))
    return units / SCALE[instance.convention]


def check(instance: Instance, routes: Sequence[Sequence[int]]) -> list[str]:
    """Every rule the routes break (coverage, capacity, windows); empty means feasible."""
    customers = range(1, len(instance.demand))
    seen = Counter(c for route in routes for c in route)
    found = [f"customer {c} is visited {n} times" for c, n in seen.items() if n > 1]
    found += [f"customer {c} is not visited" for c in customers if c not in seen]
    found += [f"node {c} is not a customer" for c in seen if c not in customers]
    if found:
        return found
    used = [route for route in routes if route]
    if instance.windows is not None and len(used) > instance.vehicles:
        found.append(f"{len(used)} routes exceed the fleet of {instance.vehicles}")
    for k, route in enumerate(used):
        load = sum(instance.demand[c] for c in route)
        if load > instance.capacity:
            found.append(f"route {k} carries {load} > capacity {instance.capacity}")
        found += _late(instance, k, route)
    return found


def _late(instance: Instance, k: int, route: Sequence[int]) -> list[str]:
    if instance.windows is None:
        return []
    scale = SCALE[instance.convention]
    clock = instance.windows[0][0] * scale
    found = []
    for a, b in pairwise([0, *route, 0]):
        opens, closes = (t * scale for t in instance.windows[b])
        start = max(clock + instance.service[a] * scale + arc(instance, a, b), opens)
        if start > closes:
            found.append(f"route {k} reaches node {b} at {start / scale} > due {closes / scale}")
        clock = start
    return found


def gap_pct(distance: float, bks: Bks | None) -> float | None:
    """Gap to the best-known distance in percent, or None when no BKS is listed."""
    return None if bks is None else (distance - bks.distance) / bks.distance * 100


def evaluate(instance: Instance, bks: Bks | None, solver: Callable[[Problem], Solution]) -> Result:
    """Solve an instance with the given solver call, re-check the routes and score them."""
    started = time.monotonic()
    problem = to_problem(instance)
    solution = solver(problem)
    seconds = time.monotonic() - started
    routes = routes_of(problem, solution)
    problems = tuple(check(instance, routes))
    distance = route_distance(instance, routes)
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
