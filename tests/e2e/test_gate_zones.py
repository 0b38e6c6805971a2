"""Attacks on the running gate through the theater's state topics, on the real broker.

The gate refuses to release a plan with a leg across a closed area, whoever approves it; and a
closed area (or a vehicle breakdown) counts only when a reporter's trusted key signed it, so a
forged report can neither block honest plans nor free a released stop.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.envelope import canonical_json, content_id, utcnow
from schemas.fleet import VehicleReported
from schemas.plans import PlanDecided, PlanProposed
from schemas.theater import Position
from schemas.topics import Topic
from schemas.zones import Circle, ZoneDeclared
from services.cli.publishing import send_many
from services.common.scenario import load_scenario
from services.common.settings import CommonSettings
from services.common.signing import key_id_of, load_private, sign_decision
from tests import factories as f
from tests.e2e.conftest import REPO, Stack, wait_for
from tests.e2e.test_gate_security import _audit
from tests.e2e.test_pipeline import _releases

pytestmark = pytest.mark.kafka
RUN = utcnow().isoformat()
SUFFIX = content_id("zones", RUN)[-8:]
R = TypeVar("R", ZoneDeclared, VehicleReported)
WHERE = load_scenario(REPO / "deploy" / "scenarios" / "demo.yaml").scenario.location_by_id


def _plan(n: int) -> PlanProposed:
    """The factory plan (DEPOT-HARBOR to FOB-HALCYON, one stop) with its own plan and order ids,
    proposed now; its order unsigned, so two people approve it."""
    order_id = content_id("ord", "zones", n, RUN)
    base = f.plan()
    routes = tuple(
        r.model_copy(
            update={"stops": tuple(s.model_copy(update={"order_id": order_id}) for s in r.stops)}
        )
        for r in base.routes
    )
    draft = base.model_copy(
        update={
            "plan_id": content_id("plan", "zones", n, RUN),
            "occurred_at": utcnow(),
            "order_ids": (order_id,),
            "routes": routes,
            "submitters": (),
        }
    )
    return draft.model_copy(update={"plan_hash": draft.computed_hash()})


def _approve(plan: PlanProposed, key: Ed25519PrivateKey, operator: str) -> PlanDecided:
    now = utcnow()
    unsigned = PlanDecided(
        message_id=content_id("dec", plan.plan_id, operator, RUN),
        occurred_at=now,
        plan_id=plan.plan_id,
        plan_hash=plan.plan_hash,
        decision="approve",
        operator_id=operator,
        role="approver",
        reason="looks right",
        decided_at=now,
        expires_at=now + timedelta(hours=1),
    )
    return sign_decision(unsigned, key)


def _over_the_road(zone_id: str) -> ZoneDeclared:
    a, b = WHERE["DEPOT-HARBOR"], WHERE["FOB-HALCYON"]
    return ZoneDeclared(
        message_id=content_id("zone", zone_id, RUN),
        occurred_at=utcnow(),
        zone_id=zone_id,
        declared_at=utcnow(),
        circle=Circle(
            center=Position(lat=(a.lat + b.lat) / 2, lon=(a.lon + b.lon) / 2), radius_m=400
        ),
        operator_id="duty-officer",
        role="approver",
        reason="forged",
    )


def _signed(report: R, key: Ed25519PrivateKey) -> R:
    stamped = report.model_copy(update={"key_id": key_id_of(key.public_key())})
    signature = base64.b64encode(key.sign(canonical_json(stamped.signed_payload()))).decode()
    return stamped.model_copy(update={"signature": signature})


def test_no_plan_crosses_a_closed_area_and_forged_reports_count_for_nothing(stack: Stack) -> None:
    settings = CommonSettings(kafka_bootstrap=stack.env["KAFKA_BOOTSTRAP"])
    keys = Path(stack.env["QM_STATE_DIR"]) / "keys"
    # The orders are unsigned: two people approve.
    approvers = [
        (load_private(keys / f"{name}.pem"), name) for name in ("duty-officer", "second-officer")
    ]
    stranger = Ed25519PrivateKey.generate()
    stack.start("gate")

    def reports() -> float:
        return stack.metric("gate", "qm_gate_theater_reports_total")

    def send(topic: Topic, items: list[tuple[object, str]]) -> None:
        asyncio.run(send_many(settings, topic, items))  # type: ignore[arg-type]

    wait_for("the gate up", lambda: _up(stack), 60, stack.logs)
    forged = _signed(_over_the_road(f"Z-FORGED-{SUFFIX}"), stranger)
    zone_id = f"Z-GATE-{SUFFIX}"
    try:
        _attack(stack, send, reports, approvers, forged, zone_id)
    finally:
        # The state topics are compacted and shared by later tests: leave no area closed.
        stack.qm("zones", "lift", zone_id, "--reason", "bridge open", "--as", "duty-officer")
        lifted = forged.model_copy(update={"lifted": True, "declared_at": utcnow()})
        send(Topic.ZONES_DECLARED, [(_signed(lifted, stranger), forged.zone_id)])


def _attack(  # type: ignore[no-untyped-def]
    stack: Stack, send, reports, approvers, forged: ZoneDeclared, zone_id: str
) -> None:
    bootstrap = stack.env["KAFKA_BOOTSTRAP"]
    seen = reports()
    # 1. A closed area signed by a key nobody trusts blocks nothing.
    send(Topic.ZONES_DECLARED, [(forged, forged.zone_id)])
    wait_for("the forged zone read", lambda: reports() > seen, 60, stack.logs)
    honest = _plan(1)
    before = stack.metric("gate", "qm_gate_plans_known")  # a shared broker replays older plans
    send(Topic.PLANS_PROPOSED, [(honest, honest.plan_id)])
    known = lambda: stack.metric("gate", "qm_gate_plans_known") > before  # noqa: E731
    wait_for("the plan known", known, 60, stack.logs)
    send(Topic.PLANS_DECIDED, [(_approve(honest, k, who), honest.plan_id) for k, who in approvers])
    released = lambda: honest.plan_id in _releases(bootstrap)  # noqa: E731
    wait_for("the honest plan released", released, 90, stack.logs)

    # 2. A closed area a duty officer signed: a plan across it is never released.
    seen = reports()
    assert forged.circle is not None
    circle = f"{forged.circle.center.lat:.5f},{forged.circle.center.lon:.5f},400"
    stack.qm(
        "zones", "declare", zone_id, "--circle", circle,
        "--until", "+2h", "--reason", "bridge flooded", "--as", "duty-officer",
    )  # fmt: skip
    wait_for("the zone read", lambda: reports() > seen, 60, stack.logs)
    across = _plan(2)
    before = stack.metric("gate", "qm_gate_plans_known")
    send(Topic.PLANS_PROPOSED, [(across, across.plan_id)])
    known = lambda: stack.metric("gate", "qm_gate_plans_known") > before  # noqa: E731
    wait_for("the plan known", known, 60, stack.logs)
    send(Topic.PLANS_DECIDED, [(_approve(across, k, who), across.plan_id) for k, who in approvers])
    refused = wait_for(
        "the refusal in the audit trail",
        lambda: [e for e in _audit(bootstrap) if e.plan_id == across.plan_id],
        90,
        stack.logs,
    )
    assert refused[0].reason == "crosses_closed_area", refused
    assert zone_id in refused[0].detail
    assert across.plan_id not in _releases(bootstrap)


def _up(stack: Stack) -> bool:
    """The gate serves its metrics."""
    try:
        stack.metric("gate", "qm_gate_plans_known")
    except OSError:
        return False
    return True
