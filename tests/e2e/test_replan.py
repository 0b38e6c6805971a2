"""Re-planning on the real broker: revisions supersede, released stops stay locked.

A released plan's stops stay on their vehicles when later orders are planned; the revision
carries an operational diff; a superseded plan can no longer be approved (the CLI says so, and
the gate refuses a signed decision with `superseded`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack, wait_for
from tests.e2e.test_gate_security import _audit
from tests.e2e.test_pipeline import _releases, _submit

pytestmark = pytest.mark.kafka

FIRST = "REQ 6 pallets of bottled water to FOB Halcyon within 20 hrs. Routine. SGT T. BELL"
SECOND = "Please send 60 blankets to Gullwing Camp within 20 hours. Thanks, Ana Ruiz"
THIRD = "Solane village needs 20 cases of MREs within 20 hrs. POC: Dario Menne"


def _pending_with(stack: Stack, order_ids: set[str]) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        for plan in stack.qm_json("plans", "list", "--status", "pending"):
            if order_ids <= set(plan["orders"]):
                return dict(plan)
        return None

    found: dict[str, Any] = wait_for(f"a pending plan with {order_ids}", probe, 120, stack.logs)
    return found


def _approve(stack: Stack, plan_id: str) -> None:
    needed = stack.qm_json("plans", "show", plan_id)["needed"]
    for approver in ["duty-officer", "second-officer"][:needed]:
        stack.qm("plans", "approve", plan_id, "--as", approver, "--reason", "checked")


def _vehicles(plan: dict[str, Any]) -> dict[str, str]:
    return {s["order_id"]: r["vehicle_id"] for r in plan["routes"] for s in r["stops"]}


def test_revisions_supersede_and_keep_released_stops_locked(stack: Stack, tmp_path: Path):
    bootstrap = stack.env["KAFKA_BOOTSTRAP"]
    stack.start("gate")
    stack.start(
        "planner",
        QM_PLANNER_REPLAN="true",
        QM_PLANNER_BATCH_MAX_ORDERS="100",
        QM_PLANNER_BATCH_WINDOW_S="3",
    )
    stack.start("parser", QM_PARSER_BACKEND="rules")

    (first,) = _submit(stack, tmp_path, [FIRST])
    p1 = _pending_with(stack, {first})
    # The solve reports its progress as metrics while it runs.
    assert stack.metric("planner", "qm_planner_search_improvements_total") >= 1
    assert stack.metric("planner", "qm_planner_solving") == 0
    _approve(stack, p1["plan_id"])
    released = wait_for(
        "the release", lambda: _releases(bootstrap).get(p1["plan_id"]), 60, stack.logs
    )
    committed = _vehicles(released.plan.model_dump(mode="json"))

    (second,) = _submit(stack, tmp_path, [SECOND])
    p2 = _pending_with(stack, {first, second})
    shown = stack.qm_json("plans", "show", p2["plan_id"])
    assert shown["plan"]["supersedes"] == p1["plan_id"]
    kept = {o: v for o, v in _vehicles(shown["plan"]).items() if o in committed}
    assert kept == committed, "a released stop moved to another vehicle"
    assert any(line.startswith(f"+ added {second}") for line in shown["diff"]), shown["diff"]
    text = stack.qm("plans", "show", p2["plan_id"]).stdout
    assert f"supersedes {p1['plan_id']}" in text and f"+ added {second}" in text
    assert stack.qm_json("plans", "show", p1["plan_id"])["superseded_by"] == p2["plan_id"]

    (third,) = _submit(stack, tmp_path, [THIRD])
    p3 = _pending_with(stack, {first, second, third})
    assert stack.qm_json("plans", "show", p3["plan_id"])["plan"]["supersedes"] == p2["plan_id"]
    refused = stack.qm(
        "plans", "approve", p2["plan_id"], "--as", "duty-officer", "--reason", "x", check=False
    )
    message = " ".join(refused.stderr.split())  # rich wraps long lines
    assert refused.returncode == 1 and f"superseded by {p3['plan_id']}" in message

    _approve(stack, p3["plan_id"])
    final = wait_for(
        "the revision's release", lambda: _releases(bootstrap).get(p3["plan_id"]), 60, stack.logs
    )
    assert final.plan.supersedes == p2["plan_id"]
    assert {
        o: v for o, v in _vehicles(final.plan.model_dump(mode="json")).items() if o in committed
    } == committed
    assert p2["plan_id"] not in _releases(bootstrap)
    outcomes = [e for e in _audit(bootstrap) if e.plan_id in {p1["plan_id"], p3["plan_id"]}]
    assert [e.kind for e in outcomes].count("plan_released") == 2
    assert stack.alive() == {"gate": True, "planner": True, "parser": True}
