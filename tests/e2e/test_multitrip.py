"""End to end on the real broker: a reload makes a batch servable, and the crew's break is taken."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.plans import PlanReleased
from schemas.topics import Topic
from services.common.codec import decode
from services.common.kafka import read_topics
from tests.e2e.conftest import Stack, wait_for

pytestmark = pytest.mark.kafka

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "scenarios" / "demo.yaml"
# Four pallets (3800 kg) each: one 5 t truck carries one order per trip, never two. Within
# 12 hours its shifts are at most two (today's and tomorrow's), so one trip each serves at most
# two of the four orders: only reloads serve them all. Priority, so that earlier tests' routine
# orders re-read from the shared topics into the same batch never take the truck from them.
ORDERS = [
    f"REQ 4 pallets of bottled water to {place} within 12 hrs. Priority: high. SGT T. BELL"
    for place in ("FOB Halcyon", "Solane", "Pietrafina", "Lantern Camp")
]


def _one_truck(tmp_path: Path) -> Path:
    """The demo theater with one 5 t truck, on duty all day, that reloads and rests."""
    data: dict[str, Any] = yaml.safe_load(DEMO.read_text())
    (truck,) = [v for v in data["fleet"] if v["id"] == "HBR-TRK-2"]
    data["fleet"] = [truck | {"shift": {"start": "00:00", "end": "23:59"}}]
    data["vehicle_types"] = [
        {
            "type": truck["type"],
            "reload_min": 30,
            "break": {"length_min": 45, "earliest": "00:00", "latest": "23:59"},
        }
    ]
    path = tmp_path / "one-truck.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _submit(stack: Stack, tmp_path: Path, texts: list[str]) -> list[str]:
    file = tmp_path / "orders.jsonl"
    file.write_text("".join(f'{{"text": "{t}"}}\n' for t in texts))
    submitted = stack.qm_json("order", "submit", "--file", str(file), "--as", "s4-clerk")
    return [o["order_id"] for o in submitted]


def _releases(bootstrap: str) -> dict[str, PlanReleased]:
    records = asyncio.run(read_topics(bootstrap, [Topic.PLANS_RELEASED.value]))
    releases = [decode(PlanReleased, r.value, 1 << 20) for r in records]
    return {r.plan_id: r for r in releases}


def test_reloads_serve_four_truckloads_with_one_truck_and_its_crew_rests(stack, tmp_path):
    stack.env["QM_SCENARIO"] = str(_one_truck(tmp_path))
    stack.start("gate")
    stack.start("planner", QM_PLANNER_BATCH_MAX_ORDERS="100", QM_PLANNER_BATCH_WINDOW_S="4")
    stack.start("parser", QM_PARSER_BACKEND="rules")
    order_ids = set(_submit(stack, tmp_path, ORDERS))
    assert len(order_ids) == len(ORDERS)

    plans = wait_for(
        "a plan with both orders",
        lambda: [p for p in stack.qm_json("plans", "list") if order_ids <= set(p["orders"])],
        120,
        stack.logs,
    )
    plan_id = plans[0]["plan_id"]
    needed = stack.qm_json("plans", "show", plan_id)["needed"]
    for approver in ["duty-officer", "second-officer"][:needed]:
        stack.qm("plans", "approve", plan_id, "--as", approver, "--reason", "trips checked")
    release = wait_for(
        "the release", lambda: _releases(stack.env["KAFKA_BOOTSTRAP"]).get(plan_id), 60, stack.logs
    )

    plan = release.plan
    assert {s.priority.value for r in plan.routes for s in r.stops if s.order_id in order_ids} == {
        "priority"
    }
    assert not {u.order_id for u in plan.unserved} & order_ids, plan.unserved
    routes = [r for r in plan.routes if {s.order_id for s in r.stops} & order_ids]
    assert {s.order_id for r in routes for s in r.stops} >= order_ids
    assert len(routes) + sum(len(r.reloads) for r in routes) >= len(ORDERS), "a trip per order"
    reloads = [reload for r in routes for reload in r.reloads]
    assert reloads, "four truckloads in at most two shifts need a reload"
    for reload in reloads:
        assert reload.depot == "DEPOT-HARBOR"
        assert reload.departure - reload.arrival >= timedelta(minutes=30)
    # Each shift with 45 min left of it rests; today's may be nearly over.
    rests = [rest for r in routes for rest in r.breaks]
    assert rests and all(rest.end - rest.start >= timedelta(minutes=45) for rest in rests)
    assert release.plan.computed_hash() == release.plan_hash
    assert all(stack.alive().values())
