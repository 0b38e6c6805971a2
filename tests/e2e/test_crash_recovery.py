"""kill -9 of parser and planner mid-stream on a real broker: nothing lost or planned twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path
from typing import TypeVar

import pytest
from pydantic import BaseModel

from schemas.orders import OrderParsed, OrderRejected
from schemas.plans import PlanProposed
from schemas.topics import Topic
from services.common.codec import DecodeError, decode
from services.common.kafka import read_topics
from tests.e2e.conftest import Stack, wait_for

pytestmark = pytest.mark.kafka
M = TypeVar("M", bound=BaseModel)
PLACES = ["FOB Halcyon", "Gullwing Camp", "Solane", "COP Wren", "Corvetta", "Pietrafina"]


def _wave(stack: Stack, tmp_path: Path, tag: str, n: int) -> set[str]:
    file = tmp_path / f"{tag}.jsonl"
    file.write_text(
        "".join(
            f'{{"text": "{tag}: send {k + 1} pallets of bottled water to {PLACES[k % len(PLACES)]}'
            f' within 30 hrs"}}\n'
            for k in range(n)
        )
    )
    return {o["order_id"] for o in stack.qm_json("order", "submit", "--file", str(file))}


def _read(stack: Stack, topic: Topic, model: type[M]) -> list[M]:
    """Every readable record; other tests' poison messages on the shared topics are skipped."""
    found = []
    for record in asyncio.run(read_topics(stack.env["KAFKA_BOOTSTRAP"], [topic.value])):
        with contextlib.suppress(DecodeError):
            found.append(decode(model, record.value, 1 << 22))
    return found


def _outcomes(stack: Stack, ids: set[str]) -> tuple[set[str], set[str]]:
    parsed = {o.order_id for o in _read(stack, Topic.ORDERS_PARSED, OrderParsed)}
    rejected = {o.order_id for o in _read(stack, Topic.ORDERS_REJECTED, OrderRejected)}
    return parsed & ids, rejected & ids


def _planned(stack: Stack, ids: set[str]) -> Counter[str]:
    # The same plan re-published is one plan: count each plan id once.
    plans = {p.plan_id: p for p in _read(stack, Topic.PLANS_PROPOSED, PlanProposed)}
    return Counter(o for p in plans.values() for o in p.order_ids if o in ids)


def _kill(stack: Stack, service: str) -> None:
    stack.services.kill(service)


def test_killed_services_lose_no_order_and_plan_none_twice(stack, tmp_path):
    planner_env = {"QM_PLANNER_BATCH_MAX_ORDERS": "1000", "QM_PLANNER_BATCH_WINDOW_S": "6"}
    stack.start("parser", QM_PARSER_BACKEND="rules")
    stack.start("planner", **planner_env)
    first = _wave(stack, tmp_path, "w1", 12)
    wait_for("wave 1 planned", lambda: set(_planned(stack, first)) == first, 120, stack.logs)

    # Wave 2 is parsed and waiting in the planner's open batch when both are killed.
    second = _wave(stack, tmp_path, "w2", 12)
    wait_for("wave 2 parsed", lambda: _outcomes(stack, second)[0] == second, 60, stack.logs)
    _kill(stack, "planner")
    _kill(stack, "parser")
    third = _wave(stack, tmp_path, "w3", 12)  # arrives while both are down
    stack.start("parser", QM_PARSER_BACKEND="rules")
    stack.start("planner", **planner_env)

    everything = first | second | third
    wait_for(
        "every order planned",
        lambda: set(_planned(stack, everything)) == everything,
        180,
        stack.logs,
    )
    parsed, rejected = _outcomes(stack, everything)
    assert parsed == everything and not rejected
    twice = {o: n for o, n in _planned(stack, everything).items() if n > 1}
    assert twice == {}, f"orders planned more than once: {twice}"
