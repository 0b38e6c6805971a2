"""make_plan: stable ids, hash, risk and approvals, requesters and expiry."""

from __future__ import annotations

from datetime import UTC, timedelta

from schemas.orders import Priority
from schemas.plans import PlanProposed
from services.common.scenario import Scenario
from tests.planner.conftest import OrderFactory, Planner
from tests.planner.helpers import NOW


def test_plan_id_is_stable_across_runs(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """Planning the same batch twice, in any order, gives the same plan_id."""
    orders = [order("o1", "FOB-1", ("TARP", 1)), order("o2", "FOB-2", ("TARP", 1))]
    first = planner(orders, tiny).plan
    second = planner(list(reversed(orders)), tiny).plan
    other = planner(orders[:1], tiny).plan
    assert first.plan_id == second.plan_id
    assert first.plan_id != other.plan_id


def test_hash_and_message_id_cover_the_content(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """plan_hash is the content hash and the model validates with it; message_id derives from it."""
    plan = planner([order("o1", "FOB-1", ("TARP", 1))], tiny).plan
    assert plan.plan_hash == plan.computed_hash()
    assert plan.message_id.startswith("msg-")
    assert PlanProposed.model_validate_json(plan.model_dump_json()) == plan


def test_plain_routine_plan_needs_one_approval(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """No urgent order, hazmat or cold chain: no risk, one approver; expiry is now + 6 h."""
    plan = planner([order("o1", "FOB-1", ("TARP", 1), submitted_by="bob")], tiny).plan
    assert plan.risk == ()
    assert plan.approvals_required == 1
    assert plan.expires_at == NOW + timedelta(hours=6)
    assert plan.occurred_at == NOW


def test_risky_plan_needs_two_approvals(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """Urgent, hazmat and cold-chain orders are each named as risks and need two approvers."""
    orders = [
        order("u", "FOB-1", ("TARP", 1), priority=Priority.URGENT, submitted_by="zed"),
        order("f", "FOB-2", ("FUEL", 5), submitted_by="amy"),
        order("v", "HOSP-1", ("VACCINE", 1), submitted_by="amy"),
        order("n", "HOSP-1", ("TARP", 1)),
    ]
    plan = planner(orders, tiny).plan
    assert plan.risk == ("urgent", "hazmat", "cold_chain")
    assert plan.approvals_required == 2
    assert plan.requested_by == ("amy", "zed")


def test_stops_carry_aware_utc_times_and_loads(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """Stop times are UTC-aware, departure follows service, and loads add up per route."""
    plan = planner(
        [order("o1", "FOB-1", ("WATER-PAL", 1)), order("o2", "FOB-1", ("TARP", 3))], tiny
    ).plan
    for route in plan.routes:
        assert route.start.tzinfo is not None
        assert route.start.utcoffset() == timedelta(0)
        assert route.load_kg == sum(s.load_kg for s in route.stops)
        for stop in route.stops:
            assert stop.departure - stop.arrival == timedelta(minutes=20)
            assert stop.arrival.astimezone(UTC) == stop.arrival
    assert plan.distance_km == round(sum(r.distance_km for r in plan.routes), 3)
    assert plan.distance_km > 0
