"""PyVRP (hybrid genetic search) on a benchmark problem, for `qm bench planner --solver pyvrp`.

Benchmark-only: PyVRP comes with the `bench` extra (`make setup-bench`) and only the bench command
imports this module, lazily. PyVRP gets the very problem our solver gets (`bench.to_problem`: the
integer distance and travel matrices, service times, windows, demands, capacities, duties at their
depots, pickup-delivery pairs as shipments) and answers in the bench's route form, so the
independent re-check and the set's distance convention apply to its routes unchanged. PyVRP
searches on one thread, here until the time limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

import numpy as np
from pyvrp import ActivityType, Client, Depot, Location, ProblemData, Shipment, VehicleType, solve
from pyvrp.stop import MaxRuntime

from lab.planner.bench import Routes, fleets, require_plain
from services.planner.problem import Problem

NAME = f"PyVRP {version('pyvrp')}"


def solve_pyvrp(problem: Problem, time_limit_s: float, seed: int = 1) -> Routes:
    """PyVRP's best routes after `time_limit_s` seconds of search on one thread."""
    require_plain(problem)
    data, clients, shipments = _data(problem)
    result = solve(data, stop=MaxRuntime(time_limit_s), seed=seed, display=False)
    routes, depots = [], []
    for route in result.best.routes():
        visits = []
        for step in route.schedule():
            if step.type == ActivityType.CLIENT:
                visits.append(clients[step.idx])
            elif step.type == ActivityType.PICKUP:
                visits.append(shipments[step.idx][0])
            elif step.type == ActivityType.DELIVERY:
                visits.append(shipments[step.idx][1])
        routes.append(tuple(visits))
        # Depot k is location k: the problem numbers its depots first.
        depots.append(data.depots()[route.start_depot()].location)
    return Routes(tuple(routes), tuple(depots))


def _data(problem: Problem) -> tuple[ProblemData, list[int], list[tuple[int, int]]]:
    """PyVRP's data, the node of each of its clients and the two nodes of each shipment."""
    paired = {j for pair in problem.pairs for j in pair}
    singles = [j for j in range(len(problem.jobs)) if j not in paired]
    vehicles = fleets(problem)
    # Depots are the first nodes; coordinates are not used, the matrices are given.
    depots = [Depot(location=k) for k in range(1 + max(f.depot for f in vehicles))]
    clients = [
        Client(
            location=job.node,
            delivery=[job.weight_kg],
            service_duration=job.service_min,
            tw_early=job.window[0],
            tw_late=job.window[1],
        )
        for job in (problem.jobs[j] for j in singles)
    ]
    shipments = [
        Shipment(
            pickup_location=problem.jobs[p].node,
            delivery_location=problem.jobs[d].node,
            pickup_tw_early=problem.jobs[p].window[0],
            pickup_tw_late=problem.jobs[p].window[1],
            pickup_service_duration=problem.jobs[p].service_min,
            delivery_tw_early=problem.jobs[d].window[0],
            delivery_tw_late=problem.jobs[d].window[1],
            delivery_service_duration=problem.jobs[d].service_min,
            amount=[problem.jobs[p].weight_kg],
        )
        for p, d in problem.pairs
    ]
    types = [
        VehicleType(
            num_available=f.count,
            capacity=[f.capacity],
            start_depot=f.depot,
            end_depot=f.depot,
            tw_early=f.start,
            tw_late=f.end,
        )
        for f in vehicles
    ]
    assert problem.travel_min is not None  # require_plain refused the rest
    data = ProblemData(
        locations=[Location(0.0, 0.0) for _ in problem.locations],
        clients=clients,
        depots=depots,
        vehicle_types=types,
        distance_matrices=_matrices(problem.distance_m),
        duration_matrices=_matrices(problem.travel_min),
        shipments=shipments,
    )
    nodes = [problem.jobs[j].node for j in singles]
    pairs = [(problem.jobs[p].node, problem.jobs[d].node) for p, d in problem.pairs]
    return data, nodes, pairs


def _matrices(rows: Sequence[Sequence[int]]) -> list[Any]:
    # list[Any]: PyVRP's stubs type a matrix `np.ndarray[int]`, which no numpy array type is.
    return [np.asarray(rows, dtype=np.int64)]
