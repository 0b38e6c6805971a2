"""Fleet state: the fold of vehicle reports, when a vehicle is ready, and plans that leave out a
vehicle that is down or start it only once it is ready."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from schemas.fleet import VehicleReported, VehicleStatus
from schemas.theater import Position
from services.common.scenario import LoadedScenario
from services.planner.fleet import NEVER, FleetState, fleet_violations
from services.planner.pipeline import plan_batch
from services.planner.problem import PlanParams
from tests.planner.conftest import OrderFactory
from tests.planner.helpers import FAST, NOW, scenario_with, vehicle


def report(
    vehicle_id: str,
    status: VehicleStatus,
    *,
    minutes: int = 0,
    available_from: datetime | None = None,
    at: tuple[float, float] | None = None,
) -> VehicleReported:
    when = NOW + timedelta(minutes=minutes)
    return VehicleReported(
        message_id=f"m-{vehicle_id}-{minutes}",
        occurred_at=when,
        vehicle_id=vehicle_id,
        status=status,
        reported_at=when,
        available_from=available_from,
        position=Position(lat=at[0], lon=at[1]) if at else None,
        position_at=when if at else None,
        operator_id="duty-officer",
        role="approver",
        reason="test",
    )


@pytest.fixture
def loaded() -> LoadedScenario:
    scenario = scenario_with(
        vehicle("TRUCK-A", "DEPOT-A", 2000, 6), vehicle("TRUCK-B", "DEPOT-B", 2000, 6)
    )
    return LoadedScenario(scenario=scenario, path="tiny", sha256="0" * 64)


def test_the_latest_report_holds_a_replay_changes_nothing_and_a_tombstone_forgets():
    state = FleetState()
    down = report("TRUCK-A", VehicleStatus.DOWN, minutes=1)
    change = state.apply("TRUCK-A", down)
    assert change is not None and change.went_out and change.before is None
    assert state.apply("TRUCK-A", down) is None  # the same record again
    assert state.apply("TRUCK-A", report("TRUCK-A", VehicleStatus.AVAILABLE)) is None  # older
    assert state.reports["TRUCK-A"] == down
    back = state.apply("TRUCK-A", report("TRUCK-A", VehicleStatus.AVAILABLE, minutes=2))
    assert back is not None and not back.went_out
    again = state.apply("TRUCK-A", report("TRUCK-A", VehicleStatus.MAINTENANCE, minutes=3))
    assert again is not None and again.went_out
    assert state.apply("TRUCK-A", None) is not None and state.reports == {}
    assert state.apply("TRUCK-A", None) is None


def test_when_a_vehicle_is_ready(loaded):
    scenario, state = loaded.scenario, FleetState()
    truck = scenario.fleet[0]
    assert state.ready_at(truck, scenario, NOW) is None  # no report: the scenario's word
    state.apply("TRUCK-A", report("TRUCK-A", VehicleStatus.DOWN))
    assert state.ready_at(truck, scenario, NOW) is NEVER
    back = NOW + timedelta(hours=3)
    state.apply(
        "TRUCK-A", report("TRUCK-A", VehicleStatus.MAINTENANCE, minutes=1, available_from=back)
    )
    assert state.ready_at(truck, scenario, NOW) == back
    # Reported 11 km north of its depot: ready once driven back (11.1 km × 1.3 at 60 km/h).
    state.apply("TRUCK-A", report("TRUCK-A", VehicleStatus.AVAILABLE, minutes=2, at=(35.1, 44.0)))
    assert state.ready_at(truck, scenario, NOW) == NOW + timedelta(minutes=2 + 15)
    # A position holds until a newer report: an hour on, the drive back still lies ahead.
    later = NOW + timedelta(hours=1)
    assert state.ready_at(truck, scenario, later) == later + timedelta(minutes=15)


def test_a_vehicle_that_is_down_gets_no_route_and_its_order_goes_to_another(
    order: OrderFactory, loaded
):
    orders = [order("a", "FOB-1", ("TARP", 1))]
    assert [r.vehicle_id for r in plan_batch(orders, loaded, NOW, PlanParams(), FAST).routes] == [
        "TRUCK-A"
    ]
    state = FleetState()
    state.apply("TRUCK-A", report("TRUCK-A", VehicleStatus.DOWN))
    plan = plan_batch(orders, loaded, NOW, PlanParams(), FAST, fleet=state)
    assert [r.vehicle_id for r in plan.routes] == ["TRUCK-B"]
    assert fleet_violations(plan, state, loaded.scenario, NOW) == []


def test_a_vehicle_back_later_starts_no_earlier(order: OrderFactory, loaded):
    only_a = LoadedScenario(
        scenario=scenario_with(vehicle("TRUCK-A", "DEPOT-A", 2000, 6)), path="t", sha256="0" * 64
    )
    ready = NOW + timedelta(hours=4, minutes=7)  # 09:07, within the 06:00-20:00 shift
    state = FleetState()
    state.apply("TRUCK-A", report("TRUCK-A", VehicleStatus.MAINTENANCE, available_from=ready))
    orders = [order("a", "FOB-1", ("TARP", 1))]
    plan = plan_batch(orders, only_a, NOW, PlanParams(), FAST, fleet=state)
    assert [r.vehicle_id for r in plan.routes] == ["TRUCK-A"]
    assert plan.routes[0].start >= ready


def test_the_recheck_refuses_a_route_of_a_vehicle_that_is_out_or_not_ready(
    order: OrderFactory, loaded
):
    plan = plan_batch([order("a", "FOB-1", ("TARP", 1))], loaded, NOW, PlanParams(), FAST)
    state = FleetState()
    state.apply("TRUCK-A", report("TRUCK-A", VehicleStatus.DOWN))
    assert fleet_violations(plan, state, loaded.scenario, NOW) == [
        f"TRUCK-A is down but has a route at {plan.routes[0].start:%F %H:%M}"
    ]
    late = NOW + timedelta(hours=12)
    state.apply(
        "TRUCK-A", report("TRUCK-A", VehicleStatus.MAINTENANCE, minutes=1, available_from=late)
    )
    assert "before it is ready" in fleet_violations(plan, state, loaded.scenario, NOW)[0]


def test_a_vehicle_out_beyond_the_horizon_leaves_the_fleet(loaded):
    state = FleetState()
    state.apply("TRUCK-B", report("TRUCK-B", VehicleStatus.DOWN))
    until = NOW + timedelta(hours=48)
    assert [v.id for v in state.scenario_for(loaded.scenario, NOW, until).fleet] == ["TRUCK-A"]
    assert state.excluded_now() == {"TRUCK-B"}
    assert state.version != FleetState().version
