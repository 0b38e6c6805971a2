"""Ruin-and-recreate start routes: optimal on instances small enough to enumerate, feasible,
faithful to who may serve what, and the planner still plans when the search cannot be built."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from itertools import pairwise, permutations
from pathlib import Path

import pytest

from services.common.scenario import Scenario
from services.planner import sisr, solver
from services.planner.locks import LockedRun
from services.planner.problem import Customers, Problem, build_problem, customers_problem
from services.planner.solver import SolveParams, solve
from tests.planner.conftest import OrderFactory
from tests.planner.helpers import NOW

_NONE = 10**12


def _random_instance(seed: int, customers: int = 7) -> Customers:
    rng = random.Random(seed)
    pos = [(50, 50)] + [(rng.randint(0, 100), rng.randint(0, 100)) for _ in range(customers)]
    dist = tuple(
        tuple(round(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5) for b in pos) for a in pos
    )
    # Windows around the time a direct trip from the depot arrives: some tight, some wide.
    windows = [(0, 1000)]
    for k in range(1, customers + 1):
        arrive = dist[0][k] + rng.randint(0, 200)
        width = rng.choice((40, 120, 1000))
        windows.append((max(0, arrive - width), arrive + width))
    return Customers(
        distance=dist,
        travel=dist,
        demand=(0, *(rng.randint(1, 4) for _ in range(customers))),
        windows=tuple(windows),
        service=(0, *(5,) * customers),
        capacity=9,
        vehicles=3,
    )


def _route_cost(c: Customers, route: Sequence[int]) -> int:
    """Distance of depot → route → depot, or _NONE if it breaks a window or the capacity."""
    if sum(c.demand[k] for k in route) > c.capacity:
        return _NONE
    clock, here = c.windows[0][0], 0
    for node in route:
        clock = max(clock + c.service[here] + c.travel[here][node], c.windows[node][0])
        if clock > c.windows[node][1]:
            return _NONE
        here = node
    if clock + c.service[here] + c.travel[here][0] > c.windows[0][1]:
        return _NONE
    return sum(c.distance[a][b] for a, b in pairwise([0, *route, 0]))


def _optimum(c: Customers) -> int:
    """Least distance serving everyone, by enumerating every route of every subset."""
    n = len(c.demand) - 1
    single = [_NONE] * (1 << n)
    single[0] = 0
    for mask in range(1, 1 << n):
        members = [k + 1 for k in range(n) if mask >> k & 1]
        single[mask] = min(_route_cost(c, p) for p in permutations(members))
    best = single
    for _ in range(c.vehicles - 1):  # one more route each round
        best = [min(single[s] + best[mask ^ s] for s in _submasks(mask)) for mask in range(1 << n)]
    return best[-1]


def _submasks(mask: int) -> Iterator[int]:
    s = mask
    while True:
        yield s
        if s == 0:
            return
        s = (s - 1) & mask


def _distance(problem: Problem, routes: Sequence[Sequence[int]]) -> int:
    return sum(
        problem.distance_m[a][b]
        for duty, route in zip(problem.duties, routes, strict=True)
        for a, b in pairwise([duty.node, *route, duty.node])
    )


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_finds_the_enumerated_optimum(seed: int) -> None:
    """On random 7-customer instances with windows and capacity, the search ends optimal."""
    c = _random_instance(seed)
    optimum = _optimum(c)
    assert optimum < _NONE, "the generator made an instance nobody can serve entirely"
    problem = customers_problem(c)
    routes = sisr.start_routes(problem, 0.3, seed=seed)
    assert sorted(n for r in routes for n in r) == list(range(1, len(c.demand)))
    assert all(_route_cost(c, r) < _NONE for r in routes if r)
    assert _distance(problem, routes) == optimum


def _two_clusters(size: int) -> Customers:
    """`size` customers near (0, 0), `size` near (1000, 0), the depot between; wide windows."""
    pos = [(500, 0)] + [(x * 1000 + k % 7, k // 7) for x in (0, 1) for k in range(size)]
    dist = tuple(
        tuple(round(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5) for b in pos) for a in pos
    )
    n = len(pos)
    return Customers(dist, dist, (0,) + (1,) * (n - 1), ((0, 10**6),) * n, (0,) * n, n, 2)


def test_a_job_no_near_route_may_take_goes_into_a_far_one() -> None:
    """Past 40 jobs recreate tries the routes near a job first; one only a far route may take
    (a locked run there, its neighbours all on the other duty) is still served there."""
    size = 50
    problem = customers_problem(_two_clusters(size))
    far = size - 1  # the job at the edge of the left cluster that only duty 1 may serve
    jobs = tuple(
        replace(job, allowed=(0,) if k < size and k != far else (1,))
        for k, job in enumerate(problem.jobs)
    )
    problem = replace(problem, jobs=jobs, locked=(LockedRun(1, (size,)),))
    routes = sisr.start_routes(problem, 0.3)
    assert routes is not None
    assert problem.jobs[far].node in routes[1]
    assert sorted(n for r in routes for n in r) == list(range(1, 2 * size + 1))


def test_only_allowed_duties_serve_and_the_unservable_stay_out(
    tiny: Scenario, order: OrderFactory
) -> None:
    """Vaccines only on the reefer, fuel only on the hazmat truck; a secure radio nowhere."""
    orders = [
        order("v", "FOB-1", ("VACCINE", 2)),
        order("f", "FOB-2", ("FUEL", 10)),
        order("w", "HOSP-1", ("WATER-PAL", 1)),
        order("r", "FOB-1", ("RADIO", 1)),
    ]
    problem = build_problem(orders, tiny, NOW)
    routes = sisr.start_routes(problem, 0.2)
    node_of = {job.node: k for k, job in enumerate(problem.jobs)}
    served = {node_of[n]: d for d, route in enumerate(routes) for n in route}
    for k, job in enumerate(problem.jobs):
        if job.allowed:
            assert served[k] in job.allowed, job.order_id
        else:
            assert k not in served, job.order_id


def test_objective_matches_or_tools(tiny: Scenario, order: OrderFactory) -> None:
    """The objective reported while the search runs is the one OR-Tools gives the same plan."""
    places = ("FOB-1", "FOB-2", "HOSP-1")
    orders = [order(f"o{k}", loc, ("TARP", 2)) for k, loc in enumerate(places)]
    problem = build_problem(orders, tiny, NOW)
    solution = solve(problem, SolveParams(time_limit_s=0.5, workers=1))
    jobs: list[list[int]] = [[] for _ in problem.duties]
    for tour in solution.tours:
        jobs[tour.duty] = [visit.job for visit in tour.visits]
    assert sisr.objective(problem, jobs) == solution.objective


def test_without_a_compiler_or_tools_plans_alone(
    tiny: Scenario, order: OrderFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No C compiler: the search is reported unavailable and OR-Tools still serves the batch."""
    monkeypatch.setenv("QM_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    sisr._library.cache_clear()
    sisr.available.cache_clear()
    try:
        assert not sisr.available()
        problem = build_problem([order("o1", "FOB-1", ("TARP", 1))], tiny, NOW)
        solution = solve(problem, SolveParams(time_limit_s=0.5, workers=1))
        assert solution.dropped == ()
    finally:
        sisr._library.cache_clear()
        sisr.available.cache_clear()
    assert not (tmp_path / "native").exists() or not any((tmp_path / "native").glob("*.so"))


def test_a_prebuilt_library_named_in_the_settings_is_the_one_loaded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prebuilt = tmp_path / "sisr.so"
    monkeypatch.setenv("QM_PLANNER_SISR_LIBRARY", str(prebuilt))
    assert sisr.library_path() == prebuilt
    monkeypatch.delenv("QM_PLANNER_SISR_LIBRARY")
    assert sisr.library_path().parent.name == "native"


def test_from_300_jobs_or_tools_keeps_1_percent_of_the_limit_not_10(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The start routes get 90 % of the time left at 299 jobs and 99 % at 300 (README)."""
    budgets: dict[int, float] = {}

    def start_routes(problem: Problem, seconds: float, **_: object) -> None:
        budgets[len(problem.jobs)] = seconds

    monkeypatch.setattr(sisr, "start_routes", start_routes)
    params = SolveParams(time_limit_s=10, workers=1)
    for jobs in (299, 300):
        dist = tuple(tuple(abs(a - b) for b in range(jobs + 1)) for a in range(jobs + 1))
        n = jobs + 1
        c = Customers(dist, dist, (0,) + (1,) * jobs, ((0, 10**6),) * n, (0,) * n, n, 2)
        solver._start_routes(customers_problem(c), params, time.time() + 10)
    assert 8.8 < budgets[299] <= 9.0
    assert 9.7 < budgets[300] <= 9.9
