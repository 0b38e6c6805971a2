"""Planner handlers on the in-memory broker: what a re-plan publishes when locks cannot hold."""

from __future__ import annotations

import logging

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas.plans import PlanProposed
from schemas.topics import Topic
from services.common.scenario import LoadedScenario
from services.planner.handlers import Planner
from services.planner.locks import Lock
from services.planner.replan import Basis
from services.planner.settings import PlannerSettings
from tests.planner.conftest import OrderFactory
from tests.planner.helpers import scenario_with, vehicle


@pytest.mark.asyncio
async def test_a_replan_whose_locks_cannot_hold_and_no_new_order_publishes_nothing(
    order: OrderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The released truck left the fleet and no order waits: an error says what to do, no plan."""
    loaded = LoadedScenario(
        scenario=scenario_with(vehicle("TRUCK-B", "DEPOT-B", 2000, 6)), path="t", sha256="0" * 64
    )
    broker = KafkaBroker()
    planner = Planner(PlannerSettings(time_limit_s=0.5), broker, loaded)
    proposed: list[PlanProposed] = []

    @broker.subscriber(Topic.PLANS_PROPOSED.value)
    async def capture(msg: KafkaMessage) -> None:
        proposed.append(PlanProposed.model_validate_json(msg.body))

    basis = Basis(
        supersedes="plan-head",
        orders=(order("a", "FOB-1", ("TARP", 1)),),
        locked_to="plan-released",
        locks=(Lock("a", "TRUCK-A", 0),),
    )
    async with TestKafkaBroker(broker):
        with caplog.at_level(logging.ERROR, logger="qm.planner"):
            await planner._plan([], basis)
        await planner._plan([order("b", "FOB-2", ("TARP", 1))], basis)
    assert "plan-head cannot be released; reject it" in caplog.text
    (plan,) = proposed  # the second batch, planned alone
    assert (plan.order_ids, plan.supersedes) == (("b",), None)
