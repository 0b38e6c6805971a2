"""Small builders of contract messages for tests."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.envelope import content_id, utcnow
from schemas.orders import DemandLine, Priority, Submitter, text_sha256
from schemas.plans import (
    Decision,
    PlanDecided,
    PlanProposed,
    Route,
    SignedOrder,
    SolverStats,
    Stop,
    Unserved,
)
from services.common.scenario import load_scenario
from services.common.settings import DEFAULT_SCENARIO
from services.common.signing import (
    TrustStore,
    public_b64,
    sign_decision,
    sign_submission,
    trusted_key_for,
)
from services.gate.rules import Policy

# Real time, floored: handlers check expiry against the wall clock.
NOW = utcnow().replace(second=0, microsecond=0)
SCENARIO = load_scenario(DEFAULT_SCENARIO).scenario
POLICY = Policy(SCENARIO)
# The requester who signs the factory plans' orders; every factory trust store knows this key.
CLERK = Ed25519PrivateKey.generate()


def submitter(
    order_id: str,
    key: Ed25519PrivateKey = CLERK,
    operator: str = "s4-clerk",
    role: str = "requester",
) -> Submitter:
    """A sender's signed claim over an order (the text is a stand-in; only its hash travels)."""
    claim = Submitter(
        order_id=order_id,
        text_sha256=text_sha256(f"text of {order_id}"),
        operator_id=operator,
        role=role,
        signed_at=NOW,
    )
    return sign_submission(claim, key)


def signed_order(order_id: str, claim: Submitter | None = None) -> SignedOrder:
    """A served order with the sender's claim over it (by default the clerk's, for that id)."""
    return SignedOrder(order_id=order_id, claim=claim or submitter(order_id))


def plan(
    *,
    priority: Priority = Priority.ROUTINE,
    handling: tuple[str, ...] = (),
    requested_by: tuple[str, ...] = ("s4-clerk",),
    expires_in: timedelta = timedelta(hours=6),
    signed: bool = True,
    sku: str = "WATER-PALLET",
) -> PlanProposed:
    """A one-route, one-stop plan with a correct hash; its order signed by s4-clerk."""
    stop = Stop(
        order_id="ord-1",
        location="FOB-HALCYON",
        arrival=NOW + timedelta(hours=1),
        departure=NOW + timedelta(hours=1, minutes=20),
        lines=(DemandLine(sku=sku, quantity=2, unit="pallet"),),
        priority=priority,
        handling=handling,
        load_kg=1900,
    )
    route = Route(
        vehicle_id="HBR-TRK-1",
        depot="DEPOT-HARBOR",
        start=NOW,
        end=NOW + timedelta(hours=2),
        stops=(stop,),
        distance_km=42.0,
        load_kg=1900,
        load_m3=3.0,
    )
    draft = PlanProposed(
        message_id="msg-x",
        occurred_at=NOW,
        plan_id=content_id("plan", priority.value, handling, sku, signed),
        plan_hash="0" * 64,
        order_ids=("ord-1",),
        requested_by=requested_by,
        submitters=(signed_order("ord-1"),) if signed else (),
        routes=(route,),
        distance_km=42.0,
        solver=SolverStats(
            status="ROUTING_SUCCESS", objective=42, wall_seconds=0.1, time_limit_seconds=1.0
        ),
        scenario="test @ 0",
        expires_at=NOW + expires_in,
    )
    return draft.model_copy(update={"plan_hash": draft.computed_hash()})


def decision(
    target: PlanProposed,
    key: Ed25519PrivateKey | None,
    *,
    operator: str = "duty-officer",
    verdict: Decision = Decision.APPROVE,
    role: str = "approver",
    at: datetime = NOW,
) -> PlanDecided:
    """A decision on a plan, signed with `key` unless it is None."""
    unsigned = PlanDecided(
        message_id=content_id("dec", target.plan_id, operator, verdict.value, at.isoformat()),
        occurred_at=at,
        plan_id=target.plan_id,
        plan_hash=target.plan_hash,
        decision=verdict,
        operator_id=operator,
        role=role,
        reason="looks right",
        decided_at=at,
        expires_at=at + timedelta(hours=1),
    )
    return sign_decision(unsigned, key) if key is not None else unsigned


def trust(
    keys: dict[str, Ed25519PrivateKey],
    roles: tuple[str, ...] = ("approver",),
    not_after: datetime | None = None,
) -> TrustStore:
    """A trust store holding each operator's key, and the clerk who signs the orders."""
    store = TrustStore()
    for operator, key in keys.items():
        store.add(trusted_key_for(key, operator, operator, roles, not_after))
    store.add(trusted_key_for(CLERK, "s4-clerk", "S4 clerk", ("requester",)))
    return store


def write_trust(store: TrustStore, state_dir: Path) -> Ed25519PrivateKey:
    """Sign the store with a fresh administrator key and put both where the gate reads them."""
    admin = Ed25519PrivateKey.generate()
    store.sign(admin)
    store.save(state_dir / "trust" / "operators.json")
    anchor = state_dir / "anchor" / "admin.pub"
    anchor.parent.mkdir(parents=True, exist_ok=True)
    anchor.write_text(public_b64(admin.public_key()))
    os.chmod(anchor, 0o444)
    os.chmod(anchor.parent, 0o555)  # noqa: S103 - a public key: anyone may read, nobody write
    return admin


def routed_plan(
    assignments: dict[str, tuple[str, ...]],
    *,
    supersedes: str | None = None,
    unserved: tuple[str, ...] = (),
    tag: str = "",
) -> PlanProposed:
    """A plan serving each vehicle's orders in the given sequence, optionally superseding one."""
    routes = []
    for vehicle_id, order_ids in sorted(assignments.items()):
        stops = tuple(
            Stop(
                order_id=order_id,
                location="FOB-HALCYON",
                arrival=NOW + timedelta(minutes=30 * (n + 1)),
                departure=NOW + timedelta(minutes=30 * (n + 1) + 10),
                lines=(DemandLine(sku="WATER-PALLET", quantity=1, unit="pallet"),),
                priority=Priority.ROUTINE,
                load_kg=950,
            )
            for n, order_id in enumerate(order_ids)
        )
        routes.append(
            Route(
                vehicle_id=vehicle_id,
                depot="DEPOT-HARBOR",
                start=NOW,
                end=NOW + timedelta(hours=len(stops) + 1),
                stops=stops,
                distance_km=10.0 * len(stops),
                load_kg=950.0 * len(stops),
                load_m3=1.5 * len(stops),
            )
        )
    served = tuple(o for ids in assignments.values() for o in ids)
    draft = PlanProposed(
        message_id=content_id("msg", tag, served, supersedes),
        occurred_at=NOW,
        plan_id=content_id("plan", tag, sorted(assignments.items()), supersedes),
        plan_hash="0" * 64,
        order_ids=tuple(sorted(served + unserved)),
        requested_by=("s4-clerk",),
        submitters=tuple(signed_order(o) for o in sorted(served)),
        routes=tuple(routes),
        unserved=tuple(
            Unserved(order_id=o, priority=Priority.ROUTINE, reason="fleet time or capacity")
            for o in unserved
        ),
        distance_km=sum(r.distance_km for r in routes),
        solver=SolverStats(
            status="ROUTING_SUCCESS", objective=1, wall_seconds=0.1, time_limit_seconds=1.0
        ),
        scenario="test @ 0",
        expires_at=NOW + timedelta(hours=6),
        supersedes=supersedes,
    )
    return draft.model_copy(update={"plan_hash": draft.computed_hash()})
