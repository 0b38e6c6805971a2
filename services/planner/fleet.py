"""Fleet state: which vehicles may be planned, and from when (pure).

The scenario lists the fleet; reports on `fleet.reported.v1` say what became of it. A vehicle
down or in maintenance is left out of planning until its `available_from`; a vehicle reported
at a position first drives back to its depot (where its goods are loaded: a route runs from
its depot and back), so it is planned from the report's time plus that drive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from schemas.envelope import sha256_hex
from schemas.fleet import VehicleReported, VehicleStatus
from schemas.plans import PlanProposed
from services.common.scenario import Scenario, Vehicle
from services.planner.problem import Problem, great_circle_m, travel_minutes

NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Change:
    """What one report changed: the vehicle, and whether it can no longer run what it could."""

    vehicle_id: str
    before: VehicleReported | None
    after: VehicleReported | None

    @property
    def went_out(self) -> bool:
        """Available (or never reported) before, down or in maintenance now."""
        return _out(self.after) and not _out(self.before)


def _out(report: VehicleReported | None) -> bool:
    return report is not None and report.status is not VehicleStatus.AVAILABLE


@dataclass
class FleetState:
    """The latest report per vehicle, as the compacted topic holds it."""

    reports: dict[str, VehicleReported] = field(default_factory=dict)

    def apply(self, vehicle_id: str, report: VehicleReported | None) -> Change | None:
        """Fold one record (None: a tombstone, back to the scenario's word); the change, if any.

        A report older than the one held (a replay) changes nothing.
        """
        before = self.reports.get(vehicle_id)
        if report is not None and before is not None and report.reported_at < before.reported_at:
            return None
        if report is None:
            self.reports.pop(vehicle_id, None)
        else:
            self.reports[vehicle_id] = report
        same = before is None and report is None
        if before is not None and report is not None:
            same = before.signed_payload() == report.signed_payload()
        return None if same else Change(vehicle_id, before, report)

    def excluded_now(self) -> set[str]:
        """Vehicles reported down or in maintenance (whatever their available_from)."""
        return {v for v, r in self.reports.items() if _out(r)}

    def ready_at(self, vehicle: Vehicle, scenario: Scenario, now: datetime) -> datetime | None:
        """When the vehicle can leave its depot: None for now, NEVER for not at all."""
        report = self.reports.get(vehicle.id)
        if report is None:
            return None
        ready = report.available_from
        if report.status is not VehicleStatus.AVAILABLE and ready is None:
            return NEVER
        if report.position is not None:
            # From where it stands (once repaired, if it is down) back to its depot.
            depot = scenario.location_by_id[vehicle.depot]
            metres = great_circle_m(
                (report.position.lat, report.position.lon), (depot.lat, depot.lon)
            )
            there = max(ready or now, report.position_at or report.reported_at, now)
            drive = travel_minutes(round(metres * scenario.road_factor), vehicle.speed_kmh)
            ready = there + timedelta(minutes=drive)
        return None if ready is None or ready <= now else ready

    def excluded(self, scenario: Scenario, now: datetime, until: datetime) -> set[str]:
        """Vehicles that cannot leave their depot before `until`."""
        out = set()
        for vehicle in scenario.fleet:
            ready = self.ready_at(vehicle, scenario, now)
            if ready is not None and ready >= until:
                out.add(vehicle.id)
        return out

    def scenario_for(self, scenario: Scenario, now: datetime, until: datetime) -> Scenario:
        """The scenario with the vehicles that cannot be planned before `until` left out."""
        gone = self.excluded(scenario, now, until)
        if not gone:
            return scenario
        return scenario.model_copy(
            update={"fleet": tuple(v for v in scenario.fleet if v.id not in gone)}
        )

    def restrict(self, problem: Problem, scenario: Scenario, now: datetime) -> Problem:
        """Each shift starts no earlier than its vehicle is ready (a shift it cannot reach at
        all ends where it starts, so nothing fits in it)."""
        vehicles = {v.id: v for v in scenario.fleet}
        duties = []
        for duty in problem.duties:
            vehicle = vehicles.get(duty.vehicle_id)
            ready = self.ready_at(vehicle, scenario, now) if vehicle is not None else None
            if ready is None:
                duties.append(duty)
                continue
            at = math.ceil((ready - problem.epoch).total_seconds() / 60)
            duties.append(replace(duty, start_min=min(max(duty.start_min, at), duty.end_min)))
        return replace(problem, duties=tuple(duties))

    @property
    def version(self) -> str:
        """The reports a plan was made with, as a hash (it joins the plan id, so a plan made
        with another fleet state is another plan)."""
        held = [self.reports[k].signed_payload() for k in sorted(self.reports)]
        return f"fleet-{len(held)}@{sha256_hex(held)[:16]}"


def fleet_violations(
    plan: PlanProposed, state: FleetState, scenario: Scenario, now: datetime
) -> list[str]:
    """The re-check: no route uses a vehicle before it is ready, or one that is out."""
    vehicles = {v.id: v for v in scenario.fleet}
    found = []
    for route in plan.routes:
        vehicle = vehicles.get(route.vehicle_id)
        if vehicle is None:
            continue  # verify reports a vehicle the scenario does not know
        ready = state.ready_at(vehicle, scenario, now)
        if ready is NEVER:
            status = state.reports[vehicle.id].status.value
            found.append(f"{vehicle.id} is {status} but has a route at {route.start:%F %H:%M}")
        elif ready is not None and route.start < ready:
            found.append(
                f"{vehicle.id} leaves at {route.start:%F %H:%M}, before it is ready at "
                f"{ready:%F %H:%M}"
            )
    return found
