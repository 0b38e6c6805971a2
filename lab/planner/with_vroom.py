"""VROOM (pyvroom) on a benchmark problem, for `qm bench planner --solver vroom`.

Benchmark-only: pyvroom comes with the `bench` extra (`make setup-bench`) and only the bench
command imports this module, lazily. VROOM gets the very problem our solver gets
(`bench.to_problem`: the integer travel matrix as durations and the distance matrix as costs,
service times, windows, demands, capacities, one vehicle per duty at its depot, pickup-delivery
pairs as shipments) and answers in the bench's route form, so the independent re-check and the
set's distance convention apply to its routes unchanged. VROOM ends its search by itself; the
time limit is passed as its timeout, which only ever cuts it short, and the bench records the
wall time it took.
"""

from __future__ import annotations

from datetime import timedelta
from importlib.metadata import version
from typing import Any

import vroom

from lab.planner.bench import Routes, require_plain
from services.planner.problem import Job, Problem

NAME = f"VROOM {version('pyvroom')}"
_PROFILE = "car"


def solve_vroom(
    problem: Problem, time_limit_s: float, threads: int = 1, exploration: int = 5
) -> Routes:
    """VROOM's routes at the given exploration level (1–5), stopped at the time limit."""
    require_plain(problem)
    model = vroom.Input()
    model.set_durations_matrix(_PROFILE, problem.travel_min)
    model.set_costs_matrix(_PROFILE, problem.distance_m)
    model.add_vehicle(
        [
            vroom.Vehicle(
                id=k,
                start=duty.node,
                end=duty.node,
                profile=_PROFILE,
                capacity=[duty.capacity_kg],
                time_window=vroom.TimeWindow(duty.start_min, duty.end_min),
            )
            for k, duty in enumerate(problem.duties)
        ]
    )
    paired = {j for pair in problem.pairs for j in pair}
    model.add_job(
        [
            vroom.Job(
                id=job.node,
                location=job.node,
                default_service=job.service_min,
                delivery=vroom.Amount([job.weight_kg]),
                time_windows=[vroom.TimeWindow(*job.window)],
            )
            for j, job in enumerate(problem.jobs)
            if j not in paired
        ]
    )
    model.add_job(
        [
            vroom.Shipment(
                pickup=_step(problem.jobs[p]),
                delivery=_step(problem.jobs[d]),
                amount=vroom.Amount([problem.jobs[p].weight_kg]),
            )
            for p, d in problem.pairs
        ]
    )
    solution = model.solve(
        exploration_level=exploration,
        nb_threads=threads,
        timeout=timedelta(seconds=time_limit_s),
    )
    answer: dict[str, Any] = solution.to_dict()
    routes = [
        tuple(
            int(s["location_index"])
            for s in r["steps"]
            if s["type"] != "start" and s["type"] != "end"
        )
        for r in answer["routes"]
    ]
    depots = [problem.duties[int(r["vehicle"])].node for r in answer["routes"]]
    return Routes(tuple(routes), tuple(depots))


def _step(job: Job) -> Any:
    return vroom.ShipmentStep(
        id=job.node,
        location=job.node,
        default_service=job.service_min,
        time_windows=[vroom.TimeWindow(*job.window)],
    )
