"""From a batch of parsed orders to a verified plan: build, solve, assemble, re-verify."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from schemas.orders import OrderParsed
from schemas.plans import PlanProposed
from services.common.scenario import LoadedScenario
from services.planner.locks import Lock, LocksInfeasible
from services.planner.plan import make_plan
from services.planner.problem import PlanParams, Problem, build_problem
from services.planner.roads import FallbackHook, matrix_for
from services.planner.solver import Progress, Solution, SolveParams, solve
from services.planner.verify import verify


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
) -> PlanProposed:
    """Blocking (OR-Tools): run it off the event loop. Raises PlanInvalid on a broken plan.

    Locked orders (every one of them in `orders`) stay on their vehicle and shift, in their
    locked order, and are never dropped; LocksInfeasible when that is no longer possible.
    `on_fallback` hears each time the road service's distances are estimated instead.
    """
    scenario = loaded.scenario
    # One provider for the solve and the re-check: both see the same road distances.
    matrix = matrix_for(params.matrix_url, scenario.road_factor, params.matrix_kind, on_fallback)
    problem = build_problem(orders, scenario, now, params, matrix, locks=locks)
    solution = solve(problem, solve_params, progress)
    _check_locks_kept(problem, solution)
    plan = make_plan(orders, scenario, loaded.version, solution, problem, params, now)
    violations = verify(
        plan, scenario, orders, matrix, locks=locks, max_late_min=params.max_late_min
    )
    if violations:
        raise PlanInvalid(violations)
    return plan


def _check_locks_kept(problem: Problem, solution: Solution) -> None:
    locked = {k for run in problem.locked for k in run.jobs}
    dropped = sorted(problem.jobs[k].order_id for k in locked & set(solution.dropped))
    if dropped:
        raise LocksInfeasible(
            f"no plan keeps every locked stop in its order on its vehicle and shift "
            f"(search {solution.status}; not placed: {', '.join(dropped)}); "
            f"plan the new orders alone"
        )
