"""The gate and the theater: released stops a vehicle breakdown or a closed area strands may
move in a revision; a plan that crosses a closed area is never released; only reports a
reporter's trusted key signed count."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.envelope import canonical_json
from schemas.fleet import VehicleReported, VehicleStatus
from schemas.plans import PlanProposed
from schemas.theater import Position
from schemas.topics import Topic
from schemas.zones import Circle, ZoneDeclared
from services.common.signing import key_id_of
from services.gate.history import apply_report
from services.gate.rules import GateState, Refusal, evaluate
from tests import factories as f


@pytest.fixture
def keys() -> dict[str, Ed25519PrivateKey]:
    return {"duty-officer": Ed25519PrivateKey.generate()}


def _down(vehicle_id: str, back_at: timedelta | None = None) -> VehicleReported:
    return VehicleReported(
        message_id=f"m-{vehicle_id}",
        occurred_at=f.NOW,
        vehicle_id=vehicle_id,
        status=VehicleStatus.DOWN,
        reported_at=f.NOW - timedelta(minutes=5),
        available_from=f.NOW + back_at if back_at is not None else None,
        operator_id="duty-officer",
        role="approver",
        reason="broken axle",
    )


def _zone_over_the_road(zone_id: str = "Z-1") -> ZoneDeclared:
    """A circle on the straight leg from DEPOT-HARBOR to FOB-HALCYON, closed from now on."""
    where = f.POLICY.scenario.location_by_id
    a, b = where["DEPOT-HARBOR"], where["FOB-HALCYON"]
    middle = Position(lat=(a.lat + b.lat) / 2, lon=(a.lon + b.lon) / 2)
    return ZoneDeclared(
        message_id=f"m-{zone_id}",
        occurred_at=f.NOW,
        zone_id=zone_id,
        declared_at=f.NOW - timedelta(minutes=5),
        circle=Circle(center=middle, radius_m=500),
        operator_id="duty-officer",
        role="approver",
        reason="bridge flooded",
    )


def _released(keys: dict[str, Ed25519PrivateKey]) -> tuple[GateState, str]:
    first = f.routed_plan({"TRK-1": ("a", "b"), "TRK-2": ("c",)}, tag="first")
    state = GateState()
    state.remember_plan(first)
    outcome = evaluate(
        state, f.decision(first, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY
    )
    assert outcome.release is not None
    state.remember_release(outcome.release)
    return state, first.plan_id


def _judge(
    state: GateState, keys: dict[str, Ed25519PrivateKey], plan: PlanProposed
) -> Refusal | None:
    fresh = GateState(
        plans=dict(state.plans),
        committed=dict(state.committed),
        fleet=dict(state.fleet),
        zones=state.zones,
    )
    fresh.remember_plan(plan)
    outcome = evaluate(
        fresh, f.decision(plan, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY
    )
    assert outcome.refusal is not None or outcome.release is not None, outcome
    return outcome.refusal


def test_the_stops_of_a_vehicle_that_is_out_may_move_and_the_others_stay_locked(keys):
    state, first = _released(keys)
    moves_a_and_b = f.routed_plan({"TRK-2": ("c", "a", "b")}, supersedes=first, tag="moved")
    moves_c = f.routed_plan({"TRK-1": ("a", "b", "c")}, supersedes=first, tag="c-moved")
    assert _judge(state, keys, moves_a_and_b) is Refusal.LOCK_VIOLATED  # TRK-1 still runs
    state.report_vehicle("TRK-1", _down("TRK-1"))
    assert _judge(state, keys, moves_a_and_b) is None
    assert _judge(state, keys, moves_c) is Refusal.LOCK_VIOLATED  # TRK-2 is not out
    # Back before now: the commitments bind again.
    state.report_vehicle("TRK-1", _down("TRK-1", back_at=timedelta(minutes=-1)))
    assert _judge(state, keys, moves_a_and_b) is Refusal.LOCK_VIOLATED


def test_a_zone_closed_over_a_released_route_lets_its_stops_move_but_not_across_it(keys):
    state, first = _released(keys)
    state.zones.apply("Z-1", _zone_over_the_road())
    # Every route here drives depot -> FOB over the closed bridge: none may be released now...
    across = f.routed_plan({"TRK-2": ("c", "a", "b")}, supersedes=first, tag="across")
    assert _judge(state, keys, across) is Refusal.CROSSES_CLOSED_AREA
    # ... and the stops it stranded are free: leaving them unserved breaks no lock.
    unserved = f.routed_plan({}, supersedes=first, unserved=("a", "b", "c"), tag="waits")
    assert _judge(state, keys, unserved) is None
    state.zones.apply("Z-1", None)  # lifted: the commitments bind again
    assert _judge(state, keys, unserved) is Refusal.LOCK_VIOLATED


def test_the_refusal_names_the_leg_the_zone_and_the_versions(keys):
    state, _ = _released(keys)
    state.zones.apply("Z-1", _zone_over_the_road())
    plan = f.routed_plan({"TRK-3": ("x",)}, tag="new")
    fresh = GateState(zones=state.zones)
    fresh.remember_plan(plan)
    outcome = evaluate(
        fresh, f.decision(plan, keys["duty-officer"]), f.trust(keys), f.NOW, f.POLICY
    )
    assert outcome.refusal is Refusal.CROSSES_CLOSED_AREA
    assert "TRK-3 drives DEPOT-HARBOR→FOB-HALCYON across closed area Z-1" in outcome.detail
    assert state.zones.version in outcome.detail


@dataclass
class _Record:
    topic: str
    key: bytes | None
    value: bytes | None


def _signed(report: VehicleReported, key: Ed25519PrivateKey) -> VehicleReported:
    stamped = report.model_copy(update={"key_id": key_id_of(key.public_key())})
    signature = key.sign(canonical_json(stamped.signed_payload()))
    return stamped.model_copy(update={"signature": base64.b64encode(signature).decode()})


def test_only_a_report_a_reporters_trusted_key_signed_counts(keys):
    state = GateState()
    record = _Record(Topic.FLEET_REPORTED.value, b"TRK-1", b"")
    unsigned = _down("TRK-1")
    assert apply_report(state, record, unsigned, f.trust(keys), f.NOW) == "unsigned"
    forged = _signed(unsigned, Ed25519PrivateKey.generate())
    assert apply_report(state, record, forged, f.trust(keys), f.NOW) == "unknown_key"
    clerk = _signed(
        unsigned.model_copy(update={"operator_id": "s4-clerk", "role": "requester"}), f.CLERK
    )
    assert apply_report(state, record, clerk, f.trust(keys), f.NOW) == "role_not_permitted"
    assert state.fleet == {}
    good = _signed(unsigned, keys["duty-officer"])
    assert apply_report(state, record, good, f.trust(keys), f.NOW) == "applied"
    assert state.vehicle_out("TRK-1", f.NOW)
    assert apply_report(state, record, None, f.trust(keys), f.NOW) == "tombstone"
    assert not state.vehicle_out("TRK-1", f.NOW)
