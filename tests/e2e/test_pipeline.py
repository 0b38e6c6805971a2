"""End to end on the real broker: CLI orders, parser, planner, signed approval, release."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.envelope import content_id, utcnow
from schemas.plans import Decision, PlanDecided, PlanReleased
from schemas.topics import Topic
from services.cli.publishing import send_many
from services.common.codec import decode
from services.common.kafka import read_topics
from services.common.settings import CommonSettings
from services.common.signing import TrustStore, sign_decision, verify_approval
from tests.e2e.conftest import Stack, wait_for

pytestmark = pytest.mark.kafka

ORDERS = [
    "REQ 4 pallets of bottled water to FOB Halcyon within 12 hrs. Routine. SGT T. BELL",
    "Please send 80 blankets to Gullwing Camp within 20 hours. Thanks, Ana Ruiz",
    "Solane village needs 30 cases of MREs within 16 hrs. POC: Dario Menne",
]


def _submit(stack: Stack, tmp_path: Path, texts: list[str]) -> list[str]:
    file = tmp_path / "orders.jsonl"
    file.write_text("".join(f'{{"text": "{t}"}}\n' for t in texts))
    submitted = stack.qm_json("order", "submit", "--file", str(file), "--as", "s4-clerk")
    return [o["order_id"] for o in submitted]


def _plans_with(stack: Stack, order_ids: set[str]) -> list[dict[str, Any]]:
    plans = stack.qm_json("plans", "list")
    return [p for p in plans if set(p["orders"]) & order_ids]


def _releases(bootstrap: str) -> dict[str, PlanReleased]:
    records = asyncio.run(read_topics(bootstrap, [Topic.PLANS_RELEASED.value]))
    releases = [decode(PlanReleased, r.value, 1 << 20) for r in records]
    return {r.plan_id: r for r in releases}


def test_orders_become_a_plan_released_only_with_a_verified_human_signature(stack, tmp_path):
    stack.start("gate")
    # Earlier tests' orders on the shared topics may join the batch: check ours are all in it.
    stack.start("planner", QM_PLANNER_BATCH_MAX_ORDERS="100", QM_PLANNER_BATCH_WINDOW_S="4")
    stack.start("parser", QM_PARSER_BACKEND="rules")
    order_ids = set(_submit(stack, tmp_path, ORDERS[:2]))

    plans = wait_for(
        "a plan with both orders",
        lambda: [p for p in _plans_with(stack, order_ids) if order_ids <= set(p["orders"])],
        120,
        stack.logs,
    )
    plan_id = plans[0]["plan_id"]
    assert plans[0]["status"] == "pending"
    assert plan_id not in _releases(stack.env["KAFKA_BOOTSTRAP"]), "nothing leaves unapproved"

    # Earlier tests' high-risk orders may share the batch: sign as many approvals as it needs.
    needed = stack.qm_json("plans", "show", plan_id)["needed"]
    approvers = ["duty-officer", "second-officer"][:needed]
    for approver in approvers:
        assert plan_id not in _releases(stack.env["KAFKA_BOOTSTRAP"]), "released before quorum"
        stack.qm("plans", "approve", plan_id, "--as", approver, "--reason", "routes checked")
    release = wait_for(
        "the release", lambda: _releases(stack.env["KAFKA_BOOTSTRAP"]).get(plan_id), 60, stack.logs
    )

    assert [a.operator_id for a in release.approvals] == approvers
    assert release.plan.computed_hash() == release.plan_hash
    trust = TrustStore.load(Path(stack.env["QM_STATE_DIR"]) / "trust" / "operators.json")
    for approval in release.approvals:
        assert verify_approval(release, approval, trust.keys[approval.key_id])
    shown = stack.qm_json("plans", "show", plan_id)
    assert shown["status"] == "released" and shown["approvers"] == approvers
    watched = stack.qm("plans", "watch", "--once").stdout
    assert plan_id in watched and "released" in watched
    stack.qm("plans", "show", plan_id, "--map", str(tmp_path / "map.html"))
    assert "<svg" in (tmp_path / "map.html").read_text()
    stack.qm("audit", "verify")
    assert all(stack.alive().values())


def _decision(plan: dict[str, Any], key: Ed25519PrivateKey | None, operator: str) -> PlanDecided:
    now = utcnow()
    unsigned = PlanDecided(
        message_id=content_id("dec", plan["plan_id"], operator, now.isoformat()),
        occurred_at=now,
        plan_id=plan["plan_id"],
        plan_hash=plan["plan_hash"],
        decision=Decision.APPROVE,
        operator_id=operator,
        role="approver",
        reason="forged",
        decided_at=now,
        expires_at=now + timedelta(hours=1),
    )
    return sign_decision(unsigned, key) if key else unsigned


def test_rejected_unsigned_and_unknown_key_decisions_release_nothing(stack, tmp_path):
    stack.start("gate")
    # Earlier tests' unplanned orders become single-order plans too: keep each solve short.
    stack.start(
        "planner",
        QM_PLANNER_BATCH_MAX_ORDERS="1",
        QM_PLANNER_BATCH_WINDOW_S="60",
        QM_PLANNER_TIME_LIMIT_S="0.5",
    )
    stack.start("parser", QM_PARSER_BACKEND="rules")
    order_ids = set(_submit(stack, tmp_path, ORDERS))
    plans = wait_for(
        "three single-order plans",
        lambda: found if len(found := _plans_with(stack, order_ids)) == 3 else None,
        240,
        stack.logs,
    )
    rejected, unsigned, stranger = (
        stack.qm_json("plans", "show", p["plan_id"])["plan"] for p in plans
    )

    stack.qm("plans", "reject", rejected["plan_id"], "--as", "duty-officer", "--reason", "no")
    forged = [
        _decision(unsigned, None, "duty-officer"),
        _decision(stranger, Ed25519PrivateKey.generate(), "duty-officer"),
    ]
    settings = CommonSettings(kafka_bootstrap=stack.env["KAFKA_BOOTSTRAP"])
    asyncio.run(send_many(settings, Topic.PLANS_DECIDED, [(d, d.plan_id) for d in forged]))
    wait_for(
        "the gate to refuse both forgeries",
        lambda: stack.metric("gate", "qm_gate_refusals_total") >= 2,
        60,
        stack.logs,
    )
    late = stack.qm(
        "plans",
        "approve",
        rejected["plan_id"],
        "--as",
        "second-officer",
        "--reason",
        "late",
        check=False,
    )
    assert late.returncode != 0 and "already rejected" in late.stderr

    # Control: the same gate does release a plan once a trusted operator signs it.
    stack.qm("plans", "approve", unsigned["plan_id"], "--as", "duty-officer", "--reason", "ok")
    wait_for(
        "the control release",
        lambda: unsigned["plan_id"] in _releases(stack.env["KAFKA_BOOTSTRAP"]),
        60,
        stack.logs,
    )
    released = _releases(stack.env["KAFKA_BOOTSTRAP"])
    assert rejected["plan_id"] not in released
    assert stranger["plan_id"] not in released
    assert [a.operator_id for a in released[unsigned["plan_id"]].approvals] == ["duty-officer"]
