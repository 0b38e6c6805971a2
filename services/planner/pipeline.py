"""From a batch of parsed orders to a verified plan: build, solve, assemble, re-verify."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from schemas.envelope import content_id
from schemas.orders import OrderParsed
from schemas.plans import PlanProposed
from services.common.scenario import LoadedScenario
from services.common.zones import ZoneBook
from services.planner.fleet import FleetState, fleet_violations
from services.planner.locks import Lock, LocksInfeasible
from services.planner.plan import make_plan
from services.planner.problem import MatrixProvider, PlanParams, Problem, build_problem
from services.planner.roads import FallbackHook, matrix_for
from services.planner.solver import Progress, Solution, SolveParams, solve
from services.planner.verify import verify
from services.planner.zones import ZoneAwareMatrix, explained, ring, zone_violations


class PlanInvalid(RuntimeError):
    """Independent verification found the solved plan breaks a rule; it must not be published."""

    def __init__(self, violations: list[str]) -> None:
        super().__init__("; ".join(violations[:5]))
        self.violations = violations


def plan_batch(
    orders: Sequence[OrderParsed],
    loaded: LoadedScenario,
    now: datetime,
    params: PlanParams,
    solve_params: SolveParams,
    progress: Callable[[Progress], None] | None = None,
    locks: Sequence[Lock] = (),
    on_fallback: FallbackHook | None = None,
    fleet: FleetState | None = None,
    zones: ZoneBook | None = None,
) -> PlanProposed:
    """Blocking (OR-Tools): run it off the event loop. Raises PlanInvalid on a broken plan.

    Locked orders (every one of them in `orders`) stay on their vehicle and shift, in their
    locked order, and are never dropped; LocksInfeasible when that is no longer possible.
    `on_fallback` hears each time the road service's distances are estimated instead.
    With `fleet`, vehicles down or in maintenance are left out and each starts once ready;
    with `zones`, no leg crosses a closed area, and the plan records the zone version.
    """
    scenario = loaded.scenario
    until = now + timedelta(hours=params.horizon_hours)
    if fleet is not None:
        scenario = fleet.scenario_for(scenario, now, until)
    # One provider for the solve and the re-check: both see the same road distances.
    matrix = _matrix(params, scenario.road_factor, on_fallback, zones, now, until)
    problem = build_problem(orders, scenario, now, params, matrix, locks=locks)
    if fleet is not None:
        problem = fleet.restrict(problem, scenario, now)
    solution = solve(problem, solve_params, progress)
    _check_locks_kept(problem, solution)
    plan = make_plan(orders, scenario, loaded.version, solution, problem, params, now)
    if zones is not None:
        closed = zones.active(now, until)
        plan = explained(plan, {o.order_id: o.destination for o in orders}, scenario, closed)
    if fleet is not None or zones is not None:
        plan = stamped(plan, zones, fleet)
    violations = verify(
        plan, scenario, orders, matrix, locks=locks, max_late_min=params.max_late_min
    )
    if fleet is not None:
        violations += fleet_violations(plan, fleet, scenario, now)
    if zones is not None:
        violations += zone_violations(plan, scenario, zones)
    if violations:
        raise PlanInvalid(violations)
    return plan


def _matrix(
    params: PlanParams,
    road_factor: float,
    on_fallback: FallbackHook | None,
    zones: ZoneBook | None,
    now: datetime,
    until: datetime,
) -> MatrixProvider:
    """The road matrix, with every leg that crosses a zone closed within the horizon forbidden;
    a road service that can avoid areas (Valhalla) is also told to route around them."""
    closed = zones.active(now, until) if zones is not None else []
    avoid = tuple(ring(zone) for zone in closed)
    roads = matrix_for(params.matrix_url, road_factor, params.matrix_kind, on_fallback, avoid=avoid)
    return ZoneAwareMatrix(roads, tuple(closed)) if closed else roads


def stamped(plan: PlanProposed, zones: ZoneBook | None, fleet: FleetState | None) -> PlanProposed:
    """The plan naming the zone version it was checked against; its id also covers the fleet
    state, so a plan made with other reports is another plan."""
    version = zones.version if zones is not None else None
    fleet_version = fleet.version if fleet is not None else None
    draft = plan.model_copy(
        update={
            "zones": version,
            "plan_id": content_id("plan", plan.plan_id, version, fleet_version),
        }
    )
    digest = draft.computed_hash()
    final = draft.model_copy(
        update={"plan_hash": digest, "message_id": content_id("msg", draft.plan_id, digest)}
    )
    return PlanProposed.model_validate(final.model_dump())


def _check_locks_kept(problem: Problem, solution: Solution) -> None:
    locked = {k for run in problem.locked for k in run.jobs}
    dropped = sorted(problem.jobs[k].order_id for k in locked & set(solution.dropped))
    if dropped:
        raise LocksInfeasible(
            f"no plan keeps every locked stop in its order on its vehicle and shift "
            f"(search {solution.status}; not placed: {', '.join(dropped)}); "
            f"plan the new orders alone"
        )
