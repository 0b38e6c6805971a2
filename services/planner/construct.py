"""Construction heuristics that seed the routing search; pure Python, no OR-Tools."""

from __future__ import annotations

from collections.abc import Sequence

from services.planner.problem import Duty, Job, Problem


def savings_routes(problem: Problem, neighbours: int = 40) -> list[list[int]] | None:
    """Clarke-Wright savings routes (node lists) respecting capacity and windows, or None."""
    duty = problem.duties[0] if problem.duties else None
    if duty is None or any(duty_shape(d) != duty_shape(duty) for d in problem.duties):
        return None  # built for one depot and a uniform fleet, like benchmark instances
    if problem.pairs or problem.locked or problem.has_rules():
        # Merging routes knows nothing of pickup-delivery pairs, locks, reloads or breaks.
        return None
    # A job only some duties may serve is left to the search, which knows who may.
    jobs = {job.node: job for job in problem.jobs if len(job.allowed) == len(problem.duties)}
    route_of = {node: [node] for node in jobs}
    for saving, i, j in _savings(problem, duty, list(route_of), neighbours):
        a, b = route_of[i], route_of[j]
        if saving <= 0 or a is b or a[-1] != i or b[0] != j:
            continue
        merged = a + b
        if not _fits(duty, [jobs[n] for n in merged]) or not _on_time(problem, duty, merged, jobs):
            continue
        for node in merged:
            route_of[node] = merged
    routes = list({id(r): r for r in route_of.values()}.values())
    return routes if len(routes) <= len(problem.duties) else None


def duty_shape(duty: Duty) -> tuple[object, ...]:
    """What makes duties interchangeable for routing, skills aside."""
    return (
        duty.node,
        duty.start_min,
        duty.end_min,
        duty.capacity_kg,
        duty.capacity_l,
        duty.speed_kmh,
        duty.fixed_cost,
    )


def _fits(duty: Duty, jobs: Sequence[Job]) -> bool:
    kg, litres = sum(j.weight_kg for j in jobs), sum(j.volume_l for j in jobs)
    return kg <= duty.capacity_kg and litres <= duty.capacity_l


def _savings(
    problem: Problem, duty: Duty, nodes: list[int], neighbours: int
) -> list[tuple[int, int, int]]:
    """(saving, i, j) for joining a route ending at i to one starting at j, best first."""
    d, depot = problem.distance_m, duty.node
    out = []
    for i in nodes:
        near = sorted(nodes, key=lambda j: d[i][j])[: neighbours + 1]
        out += [(d[i][depot] + d[depot][j] - d[i][j], i, j) for j in near if j != i]
    out.sort(reverse=True)
    return out


def _on_time(problem: Problem, duty: Duty, route: Sequence[int], jobs: dict[int, Job]) -> bool:
    """Whether the duty can drive the route within every window and its shift."""
    clock, here = duty.start_min, duty.node
    for node in route:
        opens, closes = jobs[node].window
        clock = max(clock + problem.service_min[here] + problem.travel(duty, here, node), opens)
        if clock > closes:
            return False
        here = node
    back = clock + problem.service_min[here] + problem.travel(duty, here, duty.node)
    return back <= duty.end_min
