"""Soft deliver_by: non-urgent orders may arrive up to max_late_min late, at a cost per minute."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from schemas.orders import OrderParsed, Priority
from schemas.plans import PlanProposed
from services.common.scenario import LoadedScenario
from services.planner.pipeline import plan_batch
from services.planner.problem import PlanParams
from services.planner.verify import verify
from tests.planner.conftest import OrderFactory
from tests.planner.helpers import FAST, NOW, scenario_with, vehicle

# The shift opens at 06:00; FOB-1 is a 15-minute drive, so the earliest arrival is 06:15.
TOO_SOON = NOW.replace(hour=6, minute=5)


@pytest.fixture
def truck() -> LoadedScenario:
    """One plain truck at DEPOT-A."""
    scenario = scenario_with(vehicle("TRUCK-A", "DEPOT-A", 2000, 6))
    return LoadedScenario(scenario=scenario, path="tiny", sha256="0" * 64)


def _plan(orders: Sequence[OrderParsed], loaded: LoadedScenario, **params: int) -> PlanProposed:
    return plan_batch(orders, loaded, NOW, PlanParams(**params), FAST)  # type: ignore[arg-type]


def _stops(plan: PlanProposed) -> dict[str, int]:
    return {s.order_id: s.late_min for r in plan.routes for s in r.stops}


def test_hard_deliver_by_by_default_so_an_unreachable_order_is_unserved(
    truck: LoadedScenario, order: OrderFactory
) -> None:
    """Without an allowance, 10 minutes too late is unserved with the window reason."""
    plan = _plan([order("a", "FOB-1", ("TARP", 1), deliver_by=TOO_SOON)], truck)
    (unserved,) = plan.unserved
    assert "delivery window unreachable" in unserved.reason


def test_allowed_lateness_serves_the_order_and_declares_how_late(
    truck: LoadedScenario, order: OrderFactory
) -> None:
    """With 30 min allowed it is served 10 min late; verify accepts 30 and refuses 5."""
    orders = [order("a", "FOB-1", ("TARP", 1), deliver_by=TOO_SOON)]
    plan = _plan(orders, truck, max_late_min=30)
    ((stop,),) = [r.stops for r in plan.routes]
    assert stop.late_min == round((stop.arrival - TOO_SOON).total_seconds() / 60) == 10
    assert verify(plan, truck.scenario, orders, max_late_min=30) == []
    found = verify(plan, truck.scenario, orders, max_late_min=5)
    assert found == [f"a arrives {stop.arrival:%F %H:%M}, 10 min after deliver_by; 5 min allowed"]


def test_lateness_beyond_the_allowance_is_still_unserved(
    truck: LoadedScenario, order: OrderFactory
) -> None:
    """10 minutes late does not fit an allowance of 5; the reason names the deliver_by needed."""
    plan = _plan([order("a", "FOB-1", ("TARP", 1), deliver_by=TOO_SOON)], truck, max_late_min=5)
    (unserved,) = plan.unserved
    assert "extend deliver_by to at least 2026-11-23 06:10Z" in unserved.reason


def test_urgent_orders_keep_a_hard_deliver_by(truck: LoadedScenario, order: OrderFactory) -> None:
    """An urgent order is never planned late, and verify refuses an urgent stop that is."""
    urgent = order("a", "FOB-1", ("TARP", 1), deliver_by=TOO_SOON, priority=Priority.URGENT)
    plan = _plan([urgent], truck, max_late_min=60)
    assert [u.order_id for u in plan.unserved] == ["a"]
    routine = order("a", "FOB-1", ("TARP", 1), deliver_by=TOO_SOON)
    late = _plan([routine], truck, max_late_min=60)
    assert verify(late, truck.scenario, [routine], max_late_min=60) == []
    found = verify(late, truck.scenario, [urgent], max_late_min=60)
    assert any("10 min after deliver_by; 0 min allowed" in v for v in found), found


def test_the_late_penalty_trades_lateness_against_distance(
    truck: LoadedScenario, order: OrderFactory
) -> None:
    """Going first to the hospital is on time but 8 km longer: cheap lateness is taken, dear not."""
    orders = [
        order("h", "HOSP-1", ("TARP", 1), deliver_by=NOW.replace(hour=6, minute=20)),
        order("f1", "FOB-1", ("TARP", 1)),
        order("f2", "FOB-2", ("TARP", 1)),
    ]
    cheap = _plan(orders, truck, max_late_min=120, late_penalty_per_min=1)
    dear = _plan(orders, truck, max_late_min=120, late_penalty_per_min=1000)
    assert _stops(cheap)["h"] > 0
    assert _stops(dear) == {"h": 0, "f1": 0, "f2": 0}
    assert dear.distance_km > cheap.distance_km


def test_plan_params_refuse_a_negative_allowance_and_keep_old_plan_ids() -> None:
    """max_late_min must not be negative; hard windows leave the parameters as they were."""
    with pytest.raises(ValueError, match="max_late_min"):
        PlanParams(max_late_min=-1)
    assert "max_late_min" not in PlanParams().as_dict()
    assert PlanParams(max_late_min=30).as_dict()["max_late_min"] == 30
    assert PlanParams(max_late_min=30).as_dict() != PlanParams().as_dict()
