"""OR-Tools facade: `solve(problem, params) -> Solution`; the only module that imports OR-Tools."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

from ortools.constraint_solver import pywrapcp, routing_enums_pb2, routing_ils_pb2

from services.planner import sisr
from services.planner.construct import savings_routes
from services.planner.problem import Duty, Job, Problem

log = logging.getLogger("qm.planner")

_STATUS = routing_enums_pb2.RoutingSearchStatus.Value
_FIRST = routing_enums_pb2.FirstSolutionStrategy.Value
_META = routing_enums_pb2.LocalSearchMetaheuristic.Value
_FIRST_NAMES = frozenset(_FIRST.keys())
_META_NAMES = frozenset(_META.keys())
_ALTERNATE_SEARCHES = ("same", "ruin_recreate")
_CONSTRUCTIONS = (None, "savings", "sisr")
# A spawned worker needs about a second to import OR-Tools: below this limit it cannot help.
_MIN_PORTFOLIO_S = 1.0
# Time kept back from the workers' searches to send their plans back (measured 0.2-0.7 s).
_COLLECT_S = 1.0
# Time allowed for OR-Tools to read start routes, whatever is left of the limit.
_READ_S = 5
# From this many jobs up, OR-Tools' guided local search after the "sisr" start routes gains
# almost nothing in its share (0.02 % in 3 s of 30 at 400 jobs) and overruns its limit by one
# or two seconds: the start routes keep all but this share, and OR-Tools mostly reads them.
_MANY_JOBS = 300
_MANY_JOBS_POLISH_SHARE = 0.01
# How often a portfolio worker checks that the planner that spawned it is still there.
_PARENT_CHECK_S = 0.5
_FOUND = frozenset(
    {"ROUTING_SUCCESS", "ROUTING_OPTIMAL", "ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED"}
)


@dataclass(frozen=True)
class Construction:
    """Where OR-Tools' search starts."""

    # Our savings routes ("savings"), or routes improved by our ruin and recreate
    # (native/sisr.c) for most of the time limit ("sisr", every worker with its own seed);
    # None lets OR-Tools construct, with `first_solution`.
    start: str | None = "sisr"
    # OR-Tools' first-solution strategy: used when it constructs (and by its ruin and recreate).
    first_solution: str = "PATH_CHEAPEST_ARC"
    # Share of the time limit left to OR-Tools' search after the "sisr" start routes.
    polish_share: float = 0.1
    # Random seed of the "sisr" start routes; worker k adds k.
    seed: int = 0

    def __post_init__(self) -> None:
        if self.start not in _CONSTRUCTIONS:
            raise ValueError(f"unknown construction {self.start!r}; use 'sisr', 'savings' or None")
        if self.first_solution not in _FIRST_NAMES:
            raise ValueError(
                f"unknown first_solution {self.first_solution!r}; try PATH_CHEAPEST_ARC"
            )
        if not 0 < self.polish_share <= 1:
            raise ValueError("polish_share must be in (0, 1]; try 0.1")


@dataclass(frozen=True)
class LocalSearch:
    """OR-Tools' metaheuristic, which improves on the start routes until the limit."""

    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    # Guided local search: how hard penalties push the search off long arcs (OR-Tools: 0.1).
    gls_lambda: float = 0.3

    def __post_init__(self) -> None:
        if self.metaheuristic not in _META_NAMES:
            raise ValueError(
                f"unknown metaheuristic {self.metaheuristic!r}; try GUIDED_LOCAL_SEARCH"
            )
        if not 0 < self.gls_lambda <= 10:
            raise ValueError("gls_lambda must be in (0, 10]; OR-Tools' default is 0.1")


@dataclass(frozen=True)
class RuinRecreate:
    """OR-Tools' iterated local search (SISR string removals, cheapest reinsertion, annealing
    acceptance) instead of the metaheuristic.

    It builds its own first solution, so the construction is not used; locked stops (or
    start routes) bring the metaheuristic back.
    """

    enabled: bool = False
    # Visits removed per ruin on average (SISR's c-bar); 20 beat the paper's 10 at 5 s.
    visits: int = 20

    def __post_init__(self) -> None:
        if self.visits < 1:
            raise ValueError("ruin_visits must be at least 1; try 20")


@dataclass(frozen=True)
class Portfolio:
    """What the workers after the first run: each diversifies the search.

    Each starts guided local search from our ruin and recreate with its own seed; where that
    does not apply, from other first solutions.
    """

    # First-solution strategies of the other workers, after ours.
    alternates: tuple[str, ...] = ("SAVINGS", "PATH_CHEAPEST_ARC", "PARALLEL_CHEAPEST_INSERTION")
    # What the other workers run: the same search, or ruin and recreate.
    search: str = "ruin_recreate"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.alternates) - _FIRST_NAMES)
        if unknown:
            raise ValueError(f"unknown alternates {unknown}; try SAVINGS or PATH_CHEAPEST_ARC")
        if self.search not in _ALTERNATE_SEARCHES:
            raise ValueError(
                f"unknown alternate_search {self.search!r}; use 'same' or 'ruin_recreate'"
            )


@dataclass(frozen=True)
class SolveParams:
    """Search settings; the time limit is always applied."""

    time_limit_s: float = 5.0
    # Parallel searches, the best plan kept (see Portfolio for what the others run).
    workers: int = 2
    solution_limit: int | None = None
    log_search: bool = False
    construction: Construction = Construction()
    local_search: LocalSearch = LocalSearch()
    ruin_recreate: RuinRecreate = RuinRecreate()
    portfolio: Portfolio = Portfolio()

    def __post_init__(self) -> None:
        if not self.time_limit_s > 0:
            raise ValueError("time_limit_s must be positive; an unbounded solve would block")
        if self.solution_limit is not None and self.solution_limit < 1:
            raise ValueError("solution_limit must be at least 1, or None for no limit")
        if self.workers < 1:
            raise ValueError("workers must be at least 1; use 2 for a two-core portfolio")
        groups = {
            "construction": Construction,
            "local_search": LocalSearch,
            "ruin_recreate": RuinRecreate,
            "portfolio": Portfolio,
        }
        for name, group in groups.items():
            # A flat value from before the tree (construction="savings") would fail mid-solve.
            if not isinstance(getattr(self, name), group):
                raise TypeError(f"{name} must be a {group.__name__}, e.g. {group.__name__}()")

    def first_solutions(self) -> list[str]:
        """First-solution strategies of the workers: ours first, then distinct alternates."""
        names = list(dict.fromkeys([self.construction.first_solution, *self.portfolio.alternates]))
        return [names[k % len(names)] for k in range(self.workers)]

    def variants(self) -> list[SolveParams]:
        """One search per worker: ours first, then diversifying ones.

        Ruin-and-recreate start routes diversify by seed; where they do not apply (or with
        another construction) the other workers start from other first solutions.
        """
        start = self.construction.start if self.construction.start == "sisr" else None
        ruin = self.ruin_recreate.enabled or self.portfolio.search == "ruin_recreate"
        others = [
            replace(
                self,
                construction=replace(
                    self.construction,
                    start=start,
                    first_solution=name,
                    seed=self.construction.seed + k,
                ),
                ruin_recreate=replace(self.ruin_recreate, enabled=ruin),
            )
            for k, name in enumerate(self.first_solutions()[1:], start=1)
        ]
        return [self, *others]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, recorded in the plan's solver statistics.

        Flat, with the keys (and order) of the flat parameters this tree replaced: plan ids are
        derived from it, so the same search must keep giving the same dictionary.
        """
        return {
            "time_limit_s": self.time_limit_s,
            "first_solution": self.construction.first_solution,
            "metaheuristic": self.local_search.metaheuristic,
            "solution_limit": self.solution_limit,
            "log_search": self.log_search,
            "workers": self.workers,
            # A list, as JSON gives it back: a tuple here would break the plan's round trip.
            "alternates": list(self.portfolio.alternates),
            "construction": self.construction.start,
            "polish_share": self.construction.polish_share,
            "seed": self.construction.seed,
            "gls_lambda": self.local_search.gls_lambda,
            "ruin_recreate": self.ruin_recreate.enabled,
            "ruin_visits": self.ruin_recreate.visits,
            "alternate_search": self.portfolio.search,
        }


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
class Reload:
    """A return to a depot node to reload, after `after` visits, starting at arrival_min."""

    node: int
    after: int
    arrival_min: int


@dataclass(frozen=True)
class Tour:
    """The ordered visits of one duty, leaving and returning to its depot."""

    duty: int
    start_min: int
    end_min: int
    visits: tuple[Visit, ...]
    reloads: tuple[Reload, ...] = ()
    # (start, end) minutes of the breaks the crew takes.
    breaks: tuple[tuple[int, int], ...] = ()


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
    # Wall-clock, not monotonic: spawned workers compare against it in their own processes.
    end = time.time() + params.time_limit_s
    alone = params.workers == 1 or params.time_limit_s < _MIN_PORTFOLIO_S
    if alone or not problem.duties or not problem.jobs:
        return _solve_one(problem, params, end, progress)
    results = _portfolio(problem, params, end, progress)
    best = min(results, key=lambda r: (r.status not in _FOUND, r.objective))
    return replace(best, params=params.as_dict(), wall_seconds=time.monotonic() - started)


def _portfolio(
    problem: Problem,
    params: SolveParams,
    end: float,
    progress: Callable[[Progress], None] | None,
) -> list[Solution]:
    """Every variant in parallel; a worker not back by the end of the limit is left out."""
    # Spawned searches stop early enough that their plans travel back within the limit; the
    # first worker runs here and keeps the whole limit.
    deadline = end - min(_COLLECT_S, params.time_limit_s / 10)
    variants = params.variants()
    # Spawned, not forked: the caller may hold threads (an event loop) that fork would copy.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        len(variants) - 1,
        mp_context=context,
        initializer=_follow_parent,
        initargs=(os.getpid(),),
    )
    try:
        others = [pool.submit(_solve_one, problem, v, deadline) for v in variants[1:]]
        results = [_solve_one(problem, variants[0], end, progress)]
        for future in others:
            try:
                results.append(future.result(timeout=max(0.0, end - time.time())))
            except FutureTimeout:
                continue  # still starting up or building its model: the limit wins
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def _follow_parent(parent: int) -> None:
    """In a worker: exit once the planner that spawned it is gone.

    A planner killed outright cannot shut its pool down, and the worker would otherwise wait
    on the pool's pipe for ever.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


def _solve_one(
    problem: Problem,
    params: SolveParams,
    deadline: float,
    progress: Callable[[Progress], None] | None = None,
) -> Solution:
    started = time.monotonic()
    if not problem.duties or not problem.jobs:
        return _empty(problem, params, started)
    model = _model(problem)
    manager, routing = model.manager, model.routing
    bests = _Bests(progress, started)
    bests.watch(routing)
    routes = _start_routes(problem, params, deadline, bests)
    # Model building, construction and a worker's start-up all count against the limit.
    # Ruin and recreate cannot take start routes; from them, the metaheuristic searches.
    ruin = params.ruin_recreate.enabled and not routes
    search = _search(params, deadline - time.time(), ruin_recreate=ruin)
    initial = _initial(problem, routes, manager, routing, search)
    assignment = _run(routing, search, initial)
    status = _STATUS.Name(routing.status())
    if assignment is not None and status == "ROUTING_NOT_SOLVED":
        # The iterated local search returns its best without setting the model's status.
        status = "ROUTING_SUCCESS"
    if assignment is None and initial is not None:
        # No time was left to improve on the start: it is a plan OR-Tools read and accepted.
        assignment, status = initial, "ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED"
    wall = time.monotonic() - started
    if assignment is None:
        return _empty(problem, params, started, status=status)
    tours = _tours(problem, model, assignment)
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


def _run(routing: Any, search: Any, initial: Any | None) -> Any:
    """Search from the start assignment, or from OR-Tools' own first solution."""
    if initial is not None:
        return routing.SolveFromAssignmentWithParameters(initial, search)
    if search.use_iterated_local_search:
        return routing.SolveWithIteratedLocalSearch(search)
    return routing.SolveWithParameters(search)


def _start_routes(
    problem: Problem, params: SolveParams, deadline: float, bests: _Bests | None = None
) -> list[list[int]] | None:
    """Node lists per duty to start from: our construction when asked, else the locked runs."""
    if params.construction.start == "sisr" and sisr.applies(problem) and sisr.available():
        share = params.construction.polish_share
        if len(problem.jobs) >= _MANY_JOBS:
            share = min(share, _MANY_JOBS_POLISH_SHARE)
        budget = (deadline - time.time()) * (1 - share)
        routes = sisr.start_routes(problem, budget, seed=params.construction.seed, progress=bests)
        if routes is not None:
            return routes
    if problem.locked:
        # Locked stops may not be dropped, so OR-Tools' own constructions can fail to find a
        # first solution; the locked runs alone are one, and the search inserts the rest.
        return _locked_routes(problem)
    if params.ruin_recreate.enabled or params.construction.start != "savings":
        return None
    return savings_routes(problem)


def _locked_routes(problem: Problem) -> list[list[int]]:
    """The locked runs alone, node lists per duty."""
    locked: list[list[int]] = [[] for _ in problem.duties]
    for run in problem.locked:
        locked[run.duty] = [problem.jobs[k].node for k in run.jobs]
    return locked


def _initial(
    problem: Problem, routes: list[list[int]] | None, manager: Any, routing: Any, search: Any
) -> Any | None:
    """Start routes as an OR-Tools assignment, or None to let OR-Tools construct.

    Routes OR-Tools rejects give way to the locked runs when there are locks: its own
    constructions may not find a first solution that keeps them.
    """
    if not routes:
        return None
    # Reading routes is a search under the model's time limit: the start routes may have used
    # up the solve's, and reading must not fail for want of time (it takes milliseconds).
    closing = type(search)()
    closing.CopyFrom(search)
    closing.time_limit.FromSeconds(_READ_S)
    routing.CloseModelWithParameters(closing)
    locked = _locked_routes(problem) if problem.locked else routes
    candidates = [routes] if locked == routes else [routes, locked]
    for candidate in candidates:
        indices = [[int(manager.NodeToIndex(n)) for n in route] for route in candidate]
        indices += [[] for _ in range(len(problem.duties) - len(indices))]
        assignment = routing.ReadAssignmentFromRoutes(indices, True)
        if assignment is not None:
            return assignment
        log.warning("OR-Tools rejected the start routes of %d jobs", len(problem.jobs))
    return None  # OR-Tools then builds its own first solution


@dataclass(frozen=True)
class _Nodes:
    """The model's nodes: the problem's, then optional reload visits, each a copy of a depot.

    Reloading is the established OR-Tools technique: a reload visit gives back up to a full
    load on the capacity dimensions (a negative demand taken up by slack), takes the reload
    time on the time dimension, and is free to leave out.
    """

    place: tuple[int, ...]  # the problem node each model node stands at
    reload_duties: tuple[tuple[int, ...], ...]  # per reload visit, the duties that may make it

    @property
    def first_reload(self) -> int:
        return len(self.place) - len(self.reload_duties)

    def is_reload(self, node: int) -> bool:
        return node >= self.first_reload


# Reload visits per duty and depot: the trips a shift may make, less one, at most this.
_MAX_RELOADS = 6


def _nodes(problem: Problem) -> _Nodes:
    place = list(range(len(problem.locations)))
    who: list[tuple[int, ...]] = []
    for depot in range(problem.depot_count):
        duties = [v for v, d in enumerate(problem.duties) if d.reloads and depot in d.reload_nodes]
        copies = sum(_reloads_needed(problem, v) for v in duties)
        place += [depot] * copies
        who += [tuple(duties)] * copies
    return _Nodes(tuple(place), tuple(who))


def _reloads_needed(problem: Problem, v: int) -> int:
    """Reloads a duty could use: enough to carry every job it may serve, within the cap."""
    duty = problem.duties[v]
    jobs = [job for job in problem.jobs if v in job.allowed]
    trips = max(
        -(-sum(j.weight_kg for j in jobs) // max(duty.capacity_kg, 1)),
        -(-sum(j.volume_l for j in jobs) // max(duty.capacity_l, 1)),
    )
    return max(0, min(_MAX_RELOADS, trips - 1, len(jobs) - 1))


@dataclass(frozen=True)
class _Model:
    manager: Any
    routing: Any
    time_dim: Any | None
    nodes: _Nodes
    breaks: dict[int, Any]  # duty -> its break interval


def _model(problem: Problem) -> _Model:
    nodes = _nodes(problem)
    manager = pywrapcp.RoutingIndexManager(
        len(nodes.place),
        len(problem.duties),
        [duty.node for duty in problem.duties],
        [duty.node for duty in problem.duties],
    )
    routing = pywrapcp.RoutingModel(manager)
    _add_costs(problem, routing, nodes)
    _add_capacities(problem, manager, routing, nodes)
    time_dim = _add_time(problem, routing, nodes) if time_binds(problem) else None
    _add_jobs(problem, manager, routing, time_dim)
    _add_reloads(problem, manager, routing, nodes)
    breaks = _add_breaks(problem, manager, routing, time_dim, nodes)
    _add_driving(problem, routing, nodes)
    _add_locks(problem, manager, routing)
    _add_pairs(problem, manager, routing, time_dim)
    return _Model(manager, routing, time_dim, nodes, breaks)


# What leaving a reload visit out costs: a route can then always end with a free one (back at
# its depot), after which a delivery fits; the local search only inserts one visit at a time.
_UNUSED_RELOAD_COST = 1


def _add_reloads(problem: Problem, manager: Any, routing: Any, nodes: _Nodes) -> None:
    """Reload visits: optional, by the duties allowed, never right after the start or another
    reload (that would only cost time)."""
    starts = {duty.node for duty in problem.duties}
    for depot in range(problem.depot_count):
        if depot not in starts:
            # A depot only to reload at (no vehicle starts there) is no stop of its own.
            index = manager.NodeToIndex(depot)
            routing.AddDisjunction([index], 0)
            routing.ActiveVar(index).SetValue(0)
    if not nodes.reload_duties:
        return
    first = nodes.first_reload
    reloads = [int(manager.NodeToIndex(n)) for n in range(first, len(nodes.place))]
    for index, duties in zip(reloads, nodes.reload_duties, strict=True):
        routing.AddDisjunction([index], _UNUSED_RELOAD_COST)
        if len(duties) < len(problem.duties):
            routing.VehicleVar(index).SetValues([-1, *duties])
        routing.NextVar(index).RemoveValues([r for r in reloads if r != index])
    for v in range(len(problem.duties)):
        routing.NextVar(routing.Start(v)).RemoveValues(reloads)


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


def _search(params: SolveParams, remaining_s: float, ruin_recreate: bool = False) -> Any:
    search = pywrapcp.DefaultRoutingSearchParameters()
    search.first_solution_strategy = _FIRST.Value(params.construction.first_solution)
    search.local_search_metaheuristic = _META.Value(params.local_search.metaheuristic)
    search.guided_local_search_lambda_coefficient = params.local_search.gls_lambda
    search.time_limit.FromMilliseconds(max(1, round(remaining_s * 1000)))
    if params.solution_limit is not None:
        search.solution_limit = params.solution_limit
    search.log_search = params.log_search
    if ruin_recreate:
        _ruin_recreate(search, params.ruin_recreate.visits)
    return search


def _ruin_recreate(search: Any, visits: int) -> None:
    """Iterated local search: SISR ruin, cheapest reinsertion, automatic annealing."""
    search.use_iterated_local_search = True
    # Each step's local search runs under the metaheuristic: guided local search would never
    # end it, so no ruin would ever happen; greedy descent stops at the local optimum.
    search.local_search_metaheuristic = _META.Value("GREEDY_DESCENT")
    ils = search.iterated_local_search_parameters
    ils.perturbation_strategy = routing_ils_pb2.PerturbationStrategy.RUIN_AND_RECREATE
    # A descent after each recreate: measured better than bare ruin and recreate at 5 s.
    ils.improve_perturbed_solution = True
    ruin = ils.ruin_recreate_parameters
    del ruin.ruin_strategies[:]
    sisr = ruin.ruin_strategies.add().sisr
    sisr.max_removed_sequence_size = 10
    sisr.avg_num_removed_visits = visits
    sisr.bypass_factor = 0.01  # the paper's values for the sequence length and bypass
    ruin.recreate_strategy.heuristic = _FIRST.Value("LOCAL_CHEAPEST_INSERTION")
    annealing = ils.reference_solution_acceptance_strategy.simulated_annealing
    annealing.cooling_schedule_strategy = routing_ils_pb2.CoolingScheduleStrategy.EXPONENTIAL
    annealing.automatic_temperatures = True


def _matrix(nodes: _Nodes, rows: Sequence[Sequence[int]]) -> list[list[int]]:
    """A problem matrix over the model's nodes (the rows themselves without reload visits)."""
    if not nodes.reload_duties:
        return [list(row) for row in rows]
    return [[rows[a][b] for b in nodes.place] for a in nodes.place]


def _add_costs(problem: Problem, routing: Any, nodes: _Nodes) -> None:
    # Matrices live in C++: no Python call per arc evaluation during the search.
    routing.SetArcCostEvaluatorOfAllVehicles(
        routing.RegisterTransitMatrix(_matrix(nodes, problem.distance_m))
    )
    for v, duty in enumerate(problem.duties):
        if duty.fixed_cost:
            routing.SetFixedCostOfVehicle(duty.fixed_cost, v)


def _add_capacities(problem: Problem, manager: Any, routing: Any, nodes: _Nodes) -> None:
    depots, reloads = problem.depot_count, len(nodes.reload_duties)
    kg = [0] * depots + [job.weight_kg for job in problem.jobs]
    litres = [0] * depots + [job.volume_l for job in problem.jobs]
    for name, demand, caps in (
        ("weight_kg", kg, [duty.capacity_kg for duty in problem.duties]),
        ("volume_l", litres, [duty.capacity_l for duty in problem.duties]),
    ):
        # A dimension nobody loads cannot bind, yet every move would pay to propagate it.
        if not (any(demand) or min(caps) < 0):
            continue
        # A reload gives back up to a full load: the load counted since the last one drops by
        # the largest capacity, and the slack (there only) keeps it from going below zero.
        full = max(max(caps), 0)
        callback = routing.RegisterUnaryTransitVector(demand + [-full] * reloads)
        routing.AddDimensionWithVehicleCapacity(callback, full if reloads else 0, caps, True, name)
        if reloads:
            dim = routing.GetDimensionOrDie(name)
            for job in problem.jobs:
                dim.SlackVar(manager.NodeToIndex(job.node)).SetValue(0)
            for v in range(len(problem.duties)):
                dim.SlackVar(routing.Start(v)).SetValue(0)


def time_binds(problem: Problem) -> bool:
    """Whether any window or shift could cut a route short; if not, time is left out."""
    full = (0, problem.horizon_min)
    if problem.pairs:  # a pickup precedes its delivery in time
        return True
    if any(duty.reloads or duty.break_window is not None for duty in problem.duties):
        return True  # reloads take time; breaks are intervals on the time dimension
    if any(job.window != full for job in problem.jobs) or any(
        (duty.start_min, duty.end_min) != full for duty in problem.duties
    ):
        return True
    # Even a route through every node, each left by its farthest drive, fits the horizon.
    slowest = min(problem.duties, key=lambda duty: duty.speed_kmh)
    longest = sum(problem.service_min) + sum(max(row) for row in problem.travel_matrix(slowest))
    return longest > problem.horizon_min


def _add_time(problem: Problem, routing: Any, nodes: _Nodes) -> Any:
    # One transit matrix per distinct speed (and reload time): vehicles differ in speed, not
    # in road network.
    callbacks: dict[tuple[float, int], int] = {}
    for duty in problem.duties:
        key = (duty.speed_kmh, duty.reload_min or 0)
        if key not in callbacks:
            callbacks[key] = routing.RegisterTransitMatrix(_transit(problem, duty, nodes))
    routing.AddDimensionWithVehicleTransits(
        [callbacks[(duty.speed_kmh, duty.reload_min or 0)] for duty in problem.duties],
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


def _visit_min(problem: Problem, duty: Duty, nodes: _Nodes) -> list[int]:
    """Minutes spent at each model node: service at a job, the reload time at a reload."""
    service = list(problem.service_min)
    return service + [duty.reload_min or 0] * len(nodes.reload_duties)


def _transit(problem: Problem, duty: Duty, nodes: _Nodes) -> list[list[int]]:
    visit = _visit_min(problem, duty, nodes)
    travel = _matrix(nodes, problem.travel_matrix(duty))
    return [[visit[a] + t for t in row] for a, row in enumerate(travel)]


def _add_breaks(
    problem: Problem, manager: Any, routing: Any, time_dim: Any | None, nodes: _Nodes
) -> dict[int, Any]:
    """Each duty's break as an OR-Tools break interval: before the start, after the end, or
    on a drive between two visits, never during a visit (service or reload)."""
    if time_dim is None:
        return {}
    solver, out = routing.solver(), {}
    for v, duty in enumerate(problem.duties):
        if duty.break_window is None:
            continue
        lo, hi = duty.break_window
        interval = solver.FixedDurationIntervalVar(
            lo, hi - duty.break_min, duty.break_min, False, f"break {v}"
        )
        visit = _visit_min(problem, duty, nodes)
        transits = [visit[manager.IndexToNode(i)] for i in range(routing.Size())]
        time_dim.SetBreakIntervalsOfVehicle([interval], v, transits)
        routing.AddIntervalToAssignment(interval)
        out[v] = interval
        # With breaks OR-Tools schedules the route by linear programming, which knows only
        # costs: a minute of the route's span, a metre's worth, keeps it from idling.
        time_dim.SetSpanCostCoefficientForVehicle(1, v)
    return out


def _add_driving(problem: Problem, routing: Any, nodes: _Nodes) -> None:
    """The most driving a duty may do in its shift: a dimension of travel time alone."""
    limits = [duty.max_drive_min for duty in problem.duties]
    if all(limit is None for limit in limits):
        return
    callbacks: dict[float, int] = {}
    for duty in problem.duties:
        if duty.speed_kmh not in callbacks:
            travel = _matrix(nodes, problem.travel_matrix(duty))
            callbacks[duty.speed_kmh] = routing.RegisterTransitMatrix(travel)
    unlimited = problem.horizon_min * (len(nodes.place) + 1)
    routing.AddDimensionWithVehicleTransitAndCapacity(
        [callbacks[duty.speed_kmh] for duty in problem.duties],
        0,
        [unlimited if limit is None else limit for limit in limits],
        True,
        "driving",
    )


def _add_jobs(problem: Problem, manager: Any, routing: Any, time_dim: Any | None) -> None:
    everyone = len(problem.duties)
    locked = {k for run in problem.locked for k in run.jobs}
    for k, job in enumerate(problem.jobs):
        index = manager.NodeToIndex(job.node)
        if k in locked:
            # No disjunction: a locked stop is never dropped; _add_locks fixes its vehicle.
            if time_dim is not None:
                _window(time_dim, index, job)
            continue
        routing.AddDisjunction([index], job.penalty)
        # -1 is "not performed": a job no duty can serve is forced out rather than made
        # infeasible, and its window is left open so it cannot empty a domain.
        if len(job.allowed) < everyone:
            routing.VehicleVar(index).SetValues([-1, *job.allowed])
        if job.allowed and time_dim is not None:
            _window(time_dim, index, job)


def _window(time_dim: Any, index: int, job: Job) -> None:
    """The hard window, and past a soft deliver_by a cost for every minute late."""
    time_dim.CumulVar(index).SetRange(*job.window)
    if job.due_min is not None and job.due_min < job.window[1]:
        time_dim.SetCumulVarSoftUpperBound(index, job.due_min, job.late_penalty)


def _add_locks(problem: Problem, manager: Any, routing: Any) -> None:
    """Each locked job on its duty; consecutive locked jobs of a duty in their locked order."""
    for run in problem.locked:
        for k in run.jobs:
            routing.VehicleVar(manager.NodeToIndex(problem.jobs[k].node)).SetValue(run.duty)
    if all(len(run.jobs) < 2 for run in problem.locked):
        return
    # Counts the visits along a route: a stop's rank, so rank(a) < rank(b) orders a before b
    # while leaving room for new stops in between.
    routing.AddConstantDimension(1, len(problem.locations) + 1, True, "locked_rank")
    rank = routing.GetDimensionOrDie("locked_rank")
    for run in problem.locked:
        indices = [manager.NodeToIndex(problem.jobs[k].node) for k in run.jobs]
        for a, b in pairwise(indices):
            routing.solver().Add(rank.CumulVar(a) < rank.CumulVar(b))


def _add_pairs(problem: Problem, manager: Any, routing: Any, time_dim: Any | None) -> None:
    """Each pickup and its delivery on one vehicle, the pickup first (or both dropped)."""
    for p, d in problem.pairs:
        pickup = manager.NodeToIndex(problem.jobs[p].node)
        delivery = manager.NodeToIndex(problem.jobs[d].node)
        routing.AddPickupAndDelivery(pickup, delivery)
        # Equal vehicles also make them active together: -1 is "not performed".
        routing.solver().Add(routing.VehicleVar(pickup) == routing.VehicleVar(delivery))
        if time_dim is not None:  # always: time_binds keeps time when there are pairs
            routing.solver().Add(time_dim.CumulVar(pickup) <= time_dim.CumulVar(delivery))


class _Bests:
    """Passes only new best objectives on, so a metrics hook sees a falling objective."""

    def __init__(self, progress: Callable[[Progress], None] | None, started: float) -> None:
        self._progress, self._started = progress, started
        self._solutions, self._best = 0, -1

    def __call__(self, objective: int) -> None:
        self._solutions += 1
        if self._progress is not None and (self._best < 0 or objective < self._best):
            self._best = objective
            wall = time.monotonic() - self._started
            self._progress(Progress(self._solutions, objective, wall))

    def watch(self, routing: Any) -> None:
        """Hear OR-Tools' solutions too (every accepted move, worse ones included)."""
        if self._progress is not None:
            routing.AddAtSolutionCallback(lambda: self(int(routing.CostVar().Value())))


def _tours(problem: Problem, model: _Model, assignment: Any) -> tuple[Tour, ...]:
    routing = model.routing
    tours = []
    for v in range(len(problem.duties)):
        nodes = []
        index = assignment.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            nodes.append(index)
            index = assignment.Value(routing.NextVar(index))
        if nodes:
            tours.append(_tour(problem, model, assignment, v, nodes))
    return tuple(tours)


def _tour(problem: Problem, model: _Model, assignment: Any, v: int, indices: list[int]) -> Tour:
    routing, time_dim, places = model.routing, model.time_dim, model.nodes.place
    duty, depots = problem.duties[v], problem.depot_count
    model_nodes = [int(model.manager.IndexToNode(i)) for i in indices]
    nodes = [places[n] for n in model_nodes]
    if time_dim is None:
        # Time cannot bind: drive on without waiting, from the start of the duty.
        times, clock = [], duty.start_min
        for a, b in pairwise([duty.node, *nodes]):
            clock += problem.service_min[a] + problem.travel(duty, a, b)
            times.append(clock)
        end = clock + problem.service_min[nodes[-1]] + problem.travel(duty, nodes[-1], duty.node)
        start = duty.start_min
    else:
        times = [int(assignment.Min(time_dim.CumulVar(i))) for i in indices]
        end = int(assignment.Min(time_dim.CumulVar(routing.End(v))))
        start = int(assignment.Min(time_dim.CumulVar(routing.Start(v))))
    breaks = _breaks(model, assignment, v)
    if time_dim is not None and not any(start <= b[0] and b[1] <= times[0] for b in breaks):
        # Leave no earlier than needed to reach the first stop, rather than waiting there
        # (unless the crew rests on the way).
        start = max(start, times[0] - problem.travel(duty, duty.node, nodes[0]))
    visits: list[Visit] = []
    reloads: list[Reload] = []
    for model_node, node, t in zip(model_nodes, nodes, times, strict=True):
        if model.nodes.is_reload(model_node):
            reloads.append(Reload(node, len(visits), t))
        else:
            visits.append(Visit(node - depots, t))
    if reloads and reloads[-1].after == len(visits) and reloads[-1].node == duty.node:
        # A reload back at its own depot with nothing left to deliver is where the route ends.
        end = reloads.pop().arrival_min
    return Tour(v, start, end, tuple(visits), tuple(reloads), breaks)


def _breaks(model: _Model, assignment: Any, v: int) -> tuple[tuple[int, int], ...]:
    interval = model.breaks.get(v)
    if interval is None:
        return ()
    start = int(assignment.StartValue(interval))
    return ((start, start + int(assignment.DurationValue(interval))),)
