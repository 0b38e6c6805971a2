"""Write the v1.0 payloads with the models of an old commit (run by tests/schemas/legacy.py).

This script runs against a checkout of an old commit (`git archive` into a temporary
directory, first on PYTHONPATH), never against today's models: it imports `schemas` and
`services.common` from there and serialises one realistic message per topic exactly as the
services of that time put it on Kafka (`services.common.codec.encode`). Every input is fixed,
including the Ed25519 operator key (derived from a seed), so the bytes are reproducible.

    python write_v1_0.py OUT_DIR orders.submitted.v1 plans.proposed.v1 ...
"""

from __future__ import annotations

import base64
import hashlib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import schemas
from schemas.envelope import canonical_json, content_id
from services.common.codec import encode
from services.common.signing import key_id_of, public_raw

SEED = b"quartermaster v1.0 fixture operator duty-officer"
KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(SEED).digest())
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TEXT = (
    "Need 4 pallets of water and 10 cases of MRE at FOB Halcyon by 1800 tomorrow, priority. "
    "- Sgt. Tomas Bell, S4"
)
REFUSED = "Put a camera on the Solane clinic door and send me a list of everyone who visits."
HELD = "2 crates of 5.56 to COP Wren for Thursday's range day; the checkpoint team shoots first."
ORDER_ID = content_id("ord", TEXT, "s4-clerk", NOW.isoformat(), 0)
REFUSED_ID = content_id("ord", REFUSED, "s4-clerk", NOW.isoformat(), 0)
HELD_ID = content_id("ord", HELD, "s4-clerk", NOW.isoformat(), 0)


def _signed(message: Any) -> Any:
    """The message with key id and signature over its signed payload, as sign_decision did."""
    stamped = message.model_copy(update={"key_id": key_id_of(KEY.public_key())})
    signature = KEY.sign(canonical_json(stamped.signed_payload()))
    return stamped.model_copy(update={"signature": base64.b64encode(signature).decode()})


def submitted() -> Any:
    from schemas.orders import OrderSubmitted

    return OrderSubmitted(
        message_id=content_id("msg", "submit", ORDER_ID),
        occurred_at=NOW,
        order_id=ORDER_ID,
        text=TEXT,
        submitted_by="s4-clerk",
    )


def parsed() -> Any:
    from schemas.orders import DemandLine, OrderParsed, Priority

    return OrderParsed(
        message_id=content_id("msg", "parse", ORDER_ID),
        occurred_at=NOW + timedelta(seconds=2),
        order_id=ORDER_ID,
        destination="FOB-HALCYON",
        lines=(
            DemandLine(sku="WATER-PALLET", quantity=4, unit="pallet"),
            DemandLine(sku="MRE-CASE", quantity=10, unit="case"),
        ),
        priority=Priority.PRIORITY,
        deliver_by=datetime(2026, 11, 21, 18, 0, tzinfo=UTC),
        requester="Sgt. Tomas Bell, S4",
        submitted_by="s4-clerk",
        text=TEXT,
        confidence={"destination": 0.97, "lines": 0.93, "time": 0.9},
        flags=("deliver_by_relative",),
        parser="rules",
    )


def rejected() -> Any:
    from schemas.orders import OrderRejected, RefusalCategory, RejectionOutcome

    return OrderRejected(
        message_id=content_id("msg", "parse", REFUSED_ID),
        occurred_at=NOW + timedelta(seconds=3),
        order_id=REFUSED_ID,
        outcome=RejectionOutcome.REFUSED,
        category=RefusalCategory.SURVEILLANCE,
        reasons=("asks to watch and list the people who visit a clinic",),
        text=REFUSED,
        submitted_by="s4-clerk",
        flags=("red_line",),
    )


def reviewed() -> Any:
    from schemas.orders import OrderReviewed, ReviewDecision

    return _signed(
        OrderReviewed(
            message_id=content_id("msg", "review", HELD_ID),
            occurred_at=NOW + timedelta(minutes=20),
            order_id=HELD_ID,
            text_sha256=hashlib.sha256(HELD.encode()).hexdigest(),  # what the reviewer read
            decision=ReviewDecision.RELEASE,
            operator_id="duty-officer",
            role="approver",
            reason="range-day ammunition booked with the battalion; 'shoots first' is a drill",
            decided_at=NOW + timedelta(minutes=20),
            expires_at=NOW + timedelta(hours=2),
        )
    )


def proposed() -> Any:
    from schemas.orders import DemandLine, Priority
    from schemas.plans import PlanProposed, Route, SolverStats, Stop, Unserved

    lines = (
        DemandLine(sku="WATER-PALLET", quantity=4, unit="pallet"),
        DemandLine(sku="MRE-CASE", quantity=10, unit="case"),
    )
    start = datetime(2026, 11, 21, 5, 0, tzinfo=UTC)
    stop = Stop(
        order_id=ORDER_ID,
        location="FOB-HALCYON",
        arrival=start + timedelta(minutes=41),
        departure=start + timedelta(minutes=71),
        lines=lines,
        priority=Priority.PRIORITY,
        load_kg=4120.0,
    )
    route = Route(
        vehicle_id="HBR-TRK-1",
        depot="DEPOT-HARBOR",
        start=start,
        end=start + timedelta(minutes=113),
        stops=(stop,),
        distance_km=68.412,
        load_kg=4120.0,
        load_m3=7.9,
    )
    params = {"plan": {"batch_max": 20, "time_limit_s": 5.0}, "solve": {"seed": 7}}
    order_ids = (ORDER_ID, "ord-5b1e0c3d2a9f8e7d6c5b")
    draft = PlanProposed(
        message_id="pending",
        occurred_at=NOW + timedelta(seconds=30),
        plan_id=content_id("plan", sorted(order_ids), "demo@3f9a1c2b", params),
        plan_hash="0" * 64,
        order_ids=tuple(sorted(order_ids)),
        requested_by=("s4-clerk",),
        routes=(route,),
        unserved=(
            Unserved(
                order_id="ord-5b1e0c3d2a9f8e7d6c5b",
                priority=Priority.ROUTINE,
                reason="fleet time or capacity exhausted",
            ),
        ),
        distance_km=68.412,
        solver=SolverStats(
            status="feasible",
            objective=68412,
            wall_seconds=0.84,
            time_limit_seconds=5.0,
            params=params,
        ),
        scenario="Marrow Coast Relief and Sustainment (Exercise IRON LANTERN)@3f9a1c2b",
        expires_at=NOW + timedelta(hours=4),
    )
    digest = draft.computed_hash()
    final = draft.model_copy(
        update={"plan_hash": digest, "message_id": content_id("msg", draft.plan_id, digest)}
    )
    return PlanProposed.model_validate(final.model_dump())


def decided() -> Any:
    from schemas.plans import Decision, PlanDecided

    plan = proposed()
    return _signed(
        PlanDecided(
            message_id=content_id("dec", plan.plan_id, "duty-officer"),
            occurred_at=NOW + timedelta(minutes=5),
            plan_id=plan.plan_id,
            plan_hash=plan.plan_hash,
            decision=Decision.APPROVE,
            operator_id="duty-officer",
            role="approver",
            reason="route checked against the road report",
            decided_at=NOW + timedelta(minutes=5),
            expires_at=NOW + timedelta(minutes=35),
        )
    )


def released() -> Any:
    from schemas.plans import Approval, PlanReleased

    plan, d = proposed(), decided()
    approval = Approval(
        operator_id=d.operator_id,
        role=d.role,
        key_id=d.key_id,
        decided_at=d.decided_at,
        expires_at=d.expires_at,
        reason=d.reason,
        signature=d.signature,
        decision_id=d.message_id,
    )
    return PlanReleased(
        message_id=content_id("rel", plan.plan_id, plan.plan_hash),
        occurred_at=NOW + timedelta(minutes=5, seconds=1),
        plan_id=plan.plan_id,
        plan_hash=plan.plan_hash,
        approvals=(approval,),
        plan=plan,
    )


def audited() -> Any:
    from services.common.audit import ChainHead, append

    d = decided()
    return append(
        ChainHead(),
        "decision_recorded",
        d.plan_id,
        NOW + timedelta(minutes=5, seconds=1),
        decision_id=d.message_id,
        operator_id=d.operator_id,
        key_id=d.key_id,
        reason=d.reason,
        detail="1/1 approvals",
        source="plans.decided.v1/0/17",
    )


def vehicle() -> Any:
    from schemas.fleet import VehicleReported, VehicleStatus
    from schemas.theater import Position

    return _signed(
        VehicleReported(
            message_id=content_id("msg", "vehicle", "HBR-TRK-1", NOW.isoformat()),
            occurred_at=NOW + timedelta(minutes=40),
            vehicle_id="HBR-TRK-1",
            status=VehicleStatus.DOWN,
            reported_at=NOW + timedelta(minutes=40),
            position=Position(lat=41.2381, lon=-71.9012),
            position_at=NOW + timedelta(minutes=35),
            available_from=NOW + timedelta(hours=6),
            operator_id="duty-officer",
            role="approver",
            reason="broken axle on the coast road",
        )
    )


def zone() -> Any:
    from schemas.theater import Position
    from schemas.zones import Circle, ZoneDeclared

    return _signed(
        ZoneDeclared(
            message_id=content_id("msg", "zone", "Z-BRIDGE", NOW.isoformat()),
            occurred_at=NOW + timedelta(minutes=45),
            zone_id="Z-BRIDGE",
            declared_at=NOW + timedelta(minutes=45),
            circle=Circle(center=Position(lat=41.25, lon=-71.85), radius_m=2500),
            valid_from=NOW + timedelta(hours=1),
            valid_until=NOW + timedelta(hours=13),
            operator_id="duty-officer",
            role="approver",
            reason="bridge closed by flooding",
        )
    )


def disrupted() -> Any:
    from schemas.disruptions import PlanDisrupted

    plan_id = content_id("plan", [ORDER_ID], "demo")
    return PlanDisrupted(
        message_id=content_id("msg", "disrupted", plan_id, "HBR-TRK-1"),
        occurred_at=NOW + timedelta(minutes=41),
        plan_id=plan_id,
        cause="vehicle_down",
        vehicle_ids=("HBR-TRK-1",),
        order_ids=(ORDER_ID,),
        detail="HBR-TRK-1 is down (broken axle on the coast road)",
        revision=content_id("plan", plan_id, "revision"),
    )


def operator() -> bytes:
    """The fixture operator's public trust-store entry, so tests can verify the signatures."""
    import json

    entry = {
        "operator_id": "duty-officer",
        "roles": ["approver"],
        "public_key": base64.b64encode(public_raw(KEY.public_key())).decode(),
        "key_id": key_id_of(KEY.public_key()),
    }
    return (json.dumps(entry, indent=2, sort_keys=True) + "\n").encode()


WRITERS = {
    "orders.submitted.v1": submitted,
    "orders.parsed.v1": parsed,
    "orders.rejected.v1": rejected,
    "orders.reviewed.v1": reviewed,
    "plans.proposed.v1": proposed,
    "plans.decided.v1": decided,
    "plans.released.v1": released,
    "audit.events.v1": audited,
    "fleet.reported.v1": vehicle,
    "zones.declared.v1": zone,
    "plans.disrupted.v1": disrupted,
}


def main(argv: list[str]) -> int:
    out, topics = Path(argv[0]), argv[1:]
    here = Path(__file__).resolve().parents[3]
    if Path(schemas.__file__).resolve().is_relative_to(here):
        raise SystemExit(f"schemas resolves to today's tree ({schemas.__file__}), not the old one")
    for topic in topics:
        (out / f"{topic}.json").write_bytes(encode(WRITERS[topic]()))
    (out / "operator.json").write_bytes(operator())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
