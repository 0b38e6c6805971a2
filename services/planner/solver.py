"""OR-Tools facade: `solve(problem, params) -> Solution`; the only module that imports OR-Tools."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from services.planner.problem import Problem

_STATUS = routing_enums_pb2.RoutingSearchStatus.Value
_FIRST = routing_enums_pb2.FirstSolutionStrategy.Value
_META = routing_enums_pb2.LocalSearchMetaheuristic.Value
_FIRST_NAMES = frozenset(_FIRST.keys())
_META_NAMES = frozenset(_META.keys())


@dataclass(frozen=True)
class SolveParams:
    """Search settings; the time limit is always applied."""

    time_limit_s: float = 5.0
    first_solution: str = "PATH_CHEAPEST_ARC"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    solution_limit: int | None = None
    log_search: bool = False

    def __post_init__(self) -> None:
        if not self.time_limit_s > 0:
            raise ValueError("time_limit_s must be positive; an unbounded solve would block")
        if self.first_solution not in _FIRST_NAMES:
            raise ValueError(
                f"unknown first_solution {self.first_solution!r}; try PATH_CHEAPEST_ARC"
            )
        if self.metaheuristic not in _META_NAMES:
            raise ValueError(
                f"unknown metaheuristic {self.metaheuristic!r}; try GUIDED_LOCAL_SEARCH"
            )
        if self.solution_limit is not None and self.solution_limit < 1:
            raise ValueError("solution_limit must be at least 1, or None for no limit")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, recorded in the plan's solver statistics."""
        return asdict(self)


@dataclass(frozen=True)
class Progress:
    """An improving solution found during search: what a metrics hook sees."""

    solutions: int
    objective: int
    wall_seconds: float


@dataclass(frozen=True)
class Visit:
    """One job served, with the minute its service starts."""

    job: int
    arrival_min: int


@dataclass(frozen=True)
class Tour:
    """The ordered visits of one duty, leaving and returning to its depot."""

    duty: int
    start_min: int
    end_min: int
    visits: tuple[Visit, ...]


@dataclass(frozen=True)
class Solution:
    """What the search returned: tours of used duties and the jobs left out."""

    status: str
    objective: int
    wall_seconds: float
    time_limit_s: float
    params: dict[str, Any]
    tours: tuple[Tour, ...]
    dropped: tuple[int, ...]


def solve(
    problem: Problem,
    params: SolveParams | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> Solution:
    """Route the problem's jobs over its duties within the time limit (blocking: run off-loop)."""
    params = params or SolveParams()
    started = time.monotonic()
    if not problem.duties or not problem.jobs:
        return _empty(problem, params, started)
    manager = pywrapcp.RoutingIndexManager(
        len(problem.locations),
        len(problem.duties),
        [duty.node for duty in problem.duties],
        [duty.node for duty in problem.duties],
    )
    routing = pywrapcp.RoutingModel(manager)
    _add_costs(problem, manager, routing)
    _add_capacities(problem, manager, routing)
    time_dim = _add_time(problem, manager, routing)
    _add_jobs(problem, manager, routing, time_dim)
    if progress is not None:
        _watch(routing, progress, started)
    # Model building counts against the limit, so solve() as a whole stays within it.
    remaining = params.time_limit_s - (time.monotonic() - started)
    assignment = routing.SolveWithParameters(_search(params, remaining))
    status = _STATUS.Name(routing.status())
    wall = time.monotonic() - started
    if assignment is None:
        return _empty(problem, params, started, status=status)
    tours = _tours(problem, manager, routing, time_dim, assignment)
    served = {visit.job for tour in tours for visit in tour.visits}
    return Solution(
        status=status,
        objective=int(assignment.ObjectiveValue()),
        wall_seconds=wall,
        time_limit_s=params.time_limit_s,
        params=params.as_dict(),
        tours=tours,
        dropped=tuple(k for k in range(len(problem.jobs)) if k not in served),
    )


def _empty(
    problem: Problem, params: SolveParams, started: float, status: str = "NO_WORK"
) -> Solution:
    return Solution(
        status=status,
        objective=0,
        wall_seconds=time.monotonic() - started,
        time_limit_s=params.time_limit_s,
        params=params.as_dict(),
        tours=(),
        dropped=tuple(range(len(problem.jobs))),
    )


def _search(params: SolveParams, remaining_s: float) -> Any:
    search = pywrapcp.DefaultRoutingSearchParameters()
    search.first_solution_strategy = _FIRST.Value(params.first_solution)
    search.local_search_metaheuristic = _META.Value(params.metaheuristic)
    search.time_limit.FromMilliseconds(max(1, round(remaining_s * 1000)))
    if params.solution_limit is not None:
        search.solution_limit = params.solution_limit
    search.log_search = params.log_search
    return search


def _add_costs(problem: Problem, manager: Any, routing: Any) -> None:
    dist = problem.distance_m

    def distance(i: int, j: int) -> int:
        return dist[int(manager.IndexToNode(i))][int(manager.IndexToNode(j))]

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(distance))
    for v, duty in enumerate(problem.duties):
        routing.SetFixedCostOfVehicle(duty.fixed_cost, v)


def _add_capacities(problem: Problem, manager: Any, routing: Any) -> None:
    depots = len(problem.locations) - len(problem.jobs)
    kg = [0] * depots + [job.weight_kg for job in problem.jobs]
    litres = [0] * depots + [job.volume_l for job in problem.jobs]
    for name, demand, caps in (
        ("weight_kg", kg, [duty.capacity_kg for duty in problem.duties]),
        ("volume_l", litres, [duty.capacity_l for duty in problem.duties]),
    ):
        callback = routing.RegisterUnaryTransitCallback(_unary(manager, demand))
        routing.AddDimensionWithVehicleCapacity(callback, 0, caps, True, name)


def _unary(manager: Any, values: list[int]) -> Callable[[int], int]:
    def demand(i: int) -> int:
        return values[int(manager.IndexToNode(i))]

    return demand


def _add_time(problem: Problem, manager: Any, routing: Any) -> Any:
    # One transit callback per distinct speed: vehicles differ in speed, not in road network.
    callbacks: dict[float, int] = {}
    for v, duty in enumerate(problem.duties):
        if duty.speed_kmh not in callbacks:
            callbacks[duty.speed_kmh] = routing.RegisterTransitCallback(
                _transit(problem, manager, v)
            )
    routing.AddDimensionWithVehicleTransits(
        [callbacks[duty.speed_kmh] for duty in problem.duties],
        problem.horizon_min,  # slack: a vehicle may wait for a window to open
        problem.horizon_min,
        False,
        "time",
    )
    time_dim = routing.GetDimensionOrDie("time")
    for v, duty in enumerate(problem.duties):
        start, end = routing.Start(v), routing.End(v)
        time_dim.CumulVar(start).SetRange(duty.start_min, duty.end_min)
        time_dim.CumulVar(end).SetRange(duty.start_min, duty.end_min)
        time_dim.SetSpanUpperBoundForVehicle(duty.end_min - duty.start_min, v)
        # Earliest times: deliveries as soon as the route allows (see _tours for the start).
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(start))
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(end))
    return time_dim


def _transit(problem: Problem, manager: Any, v: int) -> Callable[[int, int], int]:
    duty = problem.duties[v]
    service = problem.service_min

    def transit(i: int, j: int) -> int:
        a, b = int(manager.IndexToNode(i)), int(manager.IndexToNode(j))
        return service[a] + problem.travel(duty, a, b)

    return transit


def _add_jobs(problem: Problem, manager: Any, routing: Any, time_dim: Any) -> None:
    for job in problem.jobs:
        index = manager.NodeToIndex(job.node)
        routing.AddDisjunction([index], job.penalty)
        # -1 is "not performed": a job no duty can serve is forced out rather than made
        # infeasible, and its window is left open so it cannot empty a domain.
        routing.VehicleVar(index).SetValues([-1, *job.allowed])
        if job.allowed:
            time_dim.CumulVar(index).SetRange(*job.window)


def _watch(routing: Any, progress: Callable[[Progress], None], started: float) -> None:
    # The callback fires on every accepted move, worse ones included under a metaheuristic;
    # only new bests are reported, so a metrics hook sees a falling objective.
    state = {"solutions": 0, "best": -1}

    def on_solution() -> None:
        state["solutions"] += 1
        objective = int(routing.CostVar().Value())
        if state["best"] < 0 or objective < state["best"]:
            state["best"] = objective
            progress(Progress(state["solutions"], objective, time.monotonic() - started))

    routing.AddAtSolutionCallback(on_solution)


def _tours(
    problem: Problem, manager: Any, routing: Any, time_dim: Any, assignment: Any
) -> tuple[Tour, ...]:
    depots = len(problem.locations) - len(problem.jobs)
    tours = []
    for v in range(len(problem.duties)):
        index = routing.Start(v)
        start = assignment.Min(time_dim.CumulVar(index))
        visits = []
        index = assignment.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            arrival = assignment.Min(time_dim.CumulVar(index))
            visits.append(Visit(manager.IndexToNode(index) - depots, arrival))
            index = assignment.Value(routing.NextVar(index))
        if visits:
            end = assignment.Min(time_dim.CumulVar(index))
            # Leave no earlier than needed to reach the first stop, rather than waiting there.
            duty, first = problem.duties[v], problem.jobs[visits[0].job].node
            start = max(start, visits[0].arrival_min - problem.travel(duty, duty.node, first))
            tours.append(Tour(v, start, end, tuple(visits)))
    return tuple(tours)
