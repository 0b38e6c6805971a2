"""Planner handlers on the in-memory broker: what a re-plan publishes when locks cannot hold."""

from __future__ import annotations

import logging

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CollectorRegistry

from schemas.orders import OrderParsed
from schemas.plans import PlanProposed
from schemas.topics import Topic
from services.common.broker import make_broker
from services.common.scenario import LoadedScenario
from services.planner.handlers import Planner
from services.planner.locks import Lock
from services.planner.pipeline import PlanInvalid
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


@pytest.mark.asyncio
async def test_a_plan_that_fails_verification_dead_letters_its_orders_through_the_one_helper(
    order: OrderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = LoadedScenario(
        scenario=scenario_with(vehicle("TRUCK-B", "DEPOT-B", 2000, 6)), path="t", sha256="0" * 64
    )
    settings = PlannerSettings(time_limit_s=0.5, replan=False)
    registry = CollectorRegistry()
    broker = make_broker(settings, "planner", registry)
    planner = Planner(settings, broker, loaded)
    dead: list[tuple[bytes, dict[str, str]]] = []

    @broker.subscriber(Topic.ORDERS_PARSED.dlq)
    async def capture(msg: KafkaMessage) -> None:
        dead.append((msg.body, dict(msg.headers)))

    async def invalid(*_: object) -> None:
        raise PlanInvalid(["route 1 arrives after its window"])

    monkeypatch.setattr(planner, "_solve", invalid)
    assert _dead_letters(registry, "plan_verification_failed") == 0
    async with TestKafkaBroker(broker):
        await planner._plan([order("a", "FOB-1", ("TARP", 1))])
    ((body, headers),) = dead
    assert OrderParsed.model_validate_json(body).order_id == "a"
    assert headers["qm-reason"] == "plan_verification_failed"
    assert headers["qm-source-topic"] == Topic.ORDERS_PARSED.value
    assert headers["qm-service"] == "planner" and "window" in headers["qm-detail"]
    assert _dead_letters(registry, "plan_verification_failed") == 1


def _dead_letters(registry: CollectorRegistry, reason: str) -> float:
    value = registry.get_sample_value(
        "qm_dead_letters_total",
        {"service": "planner", "topic": Topic.ORDERS_PARSED.value, "reason": reason},
    )
    return value or 0.0
