"""A batch of the labelled evaluation orders, planned on the shared theater, verifies clean."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from schemas.orders import DemandLine, OrderParsed
from services.common.scenario import Scenario, load_scenario
from services.planner.plan import make_plan
from services.planner.problem import PlanParams, build_problem
from services.planner.solver import SolveParams, solve
from services.planner.verify import verify
from tests.paths import EVAL_DIR

EVAL = EVAL_DIR
NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def _accepted(scenario: Scenario, limit: int) -> list[OrderParsed]:
    orders = []
    for raw in (EVAL / "orders-dev.jsonl").read_text().splitlines():
        row = json.loads(raw)
        expect = row["expect"]
        if expect.get("outcome") != "accepted":
            continue
        lines = tuple(
            DemandLine(
                sku=ln["sku"], quantity=ln["quantity"], unit=scenario.item_by_sku[ln["sku"]].unit
            )
            for ln in expect["lines"]
        )
        orders.append(
            OrderParsed(
                message_id=f"msg-{row['id']}",
                occurred_at=NOW,
                order_id=row["id"],
                destination=expect["destination"],
                lines=lines,
                priority=expect["priority"],
                not_before=expect.get("not_before"),
                deliver_by=expect.get("deliver_by"),
                submitted_by=row.get("submitted_by"),
                text=row["text"],
            )
        )
    return orders[:limit]


def test_ten_eval_orders_plan_and_verify() -> None:
    """Ten real-looking orders: each routed or unserved with a reason, within limits, verified."""
    loaded = load_scenario(EVAL / "scenario.yaml")
    orders = _accepted(loaded.scenario, 10)
    params = PlanParams()
    problem = build_problem(orders, loaded.scenario, NOW, params)
    solution = solve(problem, SolveParams(time_limit_s=1.0))
    plan = make_plan(orders, loaded.scenario, loaded.version, solution, problem, params, NOW)
    assert verify(plan, loaded.scenario, orders) == []
    assert len(plan.order_ids) == 10
    assert sum(len(r.stops) for r in plan.routes) >= 8
    assert solution.wall_seconds < 3.0
