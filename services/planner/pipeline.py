"""From a batch of parsed orders to a verified plan: build, solve, assemble, re-verify."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from schemas.orders import OrderParsed
from schemas.plans import PlanProposed
from services.common.scenario import LoadedScenario
from services.planner.plan import make_plan
from services.planner.problem import PlanParams, build_problem
from services.planner.solver import Progress, SolveParams, solve
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
) -> PlanProposed:
    """Blocking (OR-Tools): run it off the event loop. Raises PlanInvalid on a broken plan."""
    scenario = loaded.scenario
    problem = build_problem(orders, scenario, now, params)
    solution = solve(problem, solve_params, progress)
    plan = make_plan(orders, scenario, loaded.version, solution, problem, params, now)
    violations = verify(plan, scenario, orders)
    if violations:
        raise PlanInvalid(violations)
    return plan
