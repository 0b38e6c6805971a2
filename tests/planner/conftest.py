"""Fixtures for the planner tests: tiny scenarios, an order factory and a fixed planner run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pytest

from schemas.orders import DemandLine, OrderParsed, Priority
from schemas.plans import PlanProposed
from services.common.scenario import Scenario
from services.planner.plan import make_plan
from services.planner.problem import PlanParams, Problem, build_problem
from services.planner.solver import Solution, solve
from tests import factories as f
from tests.planner.helpers import FAST, NOW, scenario_with, vehicle


@pytest.fixture
def tiny() -> Scenario:
    """Two depots; a plain truck, a fuel truck and a reefer; nobody carries 'secure'."""
    return scenario_with(
        vehicle("TRUCK-1", "DEPOT-A", 2000, 6),
        vehicle("FUEL-1", "DEPOT-B", 3000, 5, ["hazmat"], speed=45),
        vehicle("REEF-1", "DEPOT-A", 500, 3, ["cold_chain"], speed=70, shift=("07:00", "18:00")),
    )


@pytest.fixture
def one_truck() -> Scenario:
    """A single truck that can carry one water pallet and no more."""
    return scenario_with(vehicle("TRUCK-1", "DEPOT-A", 1000, 6))


OrderFactory = Callable[..., OrderParsed]


@pytest.fixture
def order() -> OrderFactory:
    """Build an OrderParsed from an id, a destination and (sku, quantity) lines."""

    def make(
        order_id: str,
        destination: str,
        *lines: tuple[str, int],
        priority: Priority = Priority.ROUTINE,
        not_before: datetime | None = None,
        deliver_by: datetime | None = None,
        submitted_by: str | None = None,
    ) -> OrderParsed:
        return OrderParsed(
            message_id=f"msg-{order_id}",
            occurred_at=NOW,
            order_id=order_id,
            destination=destination,
            lines=tuple(DemandLine(sku=s, quantity=q, unit="each") for s, q in lines),
            priority=priority,
            not_before=not_before,
            deliver_by=deliver_by,
            submitted_by=submitted_by,
            submitter=f.submitter(order_id),  # signed by the factories' clerk
            text=f"order {order_id}",
        )

    return make


@dataclass(frozen=True)
class Planned:
    """Everything one planning run produced."""

    problem: Problem
    solution: Solution
    plan: PlanProposed


Planner = Callable[[Sequence[OrderParsed], Scenario], Planned]


@pytest.fixture
def planner() -> Planner:
    """Plan a batch with fixed, fast parameters at NOW."""

    def run(orders: Sequence[OrderParsed], scenario: Scenario) -> Planned:
        params = PlanParams()
        problem = build_problem(orders, scenario, NOW, params)
        solution = solve(problem, FAST)
        plan = make_plan(orders, scenario, "tiny @ test", solution, problem, params, NOW)
        return Planned(problem, solution, plan)

    return run
