"""Re-check a proposed plan against the scenario and its orders, independently of the solver."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from schemas.orders import OrderParsed, Priority
from schemas.plans import PlanProposed, Route, Stop
from services.common.scenario import Scenario, Vehicle, VehicleType, clock_min
from services.planner.locks import Lock
from services.planner.problem import (
    GreatCircleMatrix,
    MatrixProvider,
    plan_epoch,
    travel_minutes,
    unique_orders,
)

# Loads are recomputed in floating point; tolerate rounding, never a real overload.
_TOL = 1e-6


def verify(
    plan: PlanProposed,
    scenario: Scenario,
    orders: Sequence[OrderParsed],
    matrix: MatrixProvider | None = None,
    *,
    locks: Sequence[Lock] = (),
    max_late_min: int = 0,
) -> list[str]:
    """Every rule the plan breaks, one sentence each; an empty list means the plan is valid.

    max_late_min is how late after deliver_by a non-urgent order may arrive (PlanParams).
    """
    by_id = {order.order_id: order for order in unique_orders(orders)}
    provider = matrix or GreatCircleMatrix(scenario.road_factor)
    found = _coverage(plan, by_id)
    epoch = plan_epoch(plan.occurred_at)
    for route in plan.routes:
        found.extend(_route(route, scenario, by_id, provider))
        found.extend(_lateness(route, by_id, max_late_min))
        found.extend(_rules(route, scenario, by_id, provider, epoch))
    found.extend(_overlaps(plan.routes))
    found.extend(lock_violations(plan, locks))
    if plan.computed_hash() != plan.plan_hash:
        found.append("plan_hash does not match the plan content")
    return found


def _coverage(plan: PlanProposed, by_id: dict[str, OrderParsed]) -> list[str]:
    seen = Counter(
        [stop.order_id for route in plan.routes for stop in route.stops]
        + [item.order_id for item in plan.unserved]
    )
    found = [
        f"order {oid} appears {n} times; it must appear once" for oid, n in seen.items() if n > 1
    ]
    found += [f"order {oid} is neither routed nor unserved" for oid in by_id if oid not in seen]
    found += [
        f"order {oid} is in the plan but not in the batch" for oid in seen if oid not in by_id
    ]
    if set(plan.order_ids) != set(by_id):
        found.append("order_ids does not list exactly the batch's orders")
    found += [f"unserved order {u.order_id} has no reason" for u in plan.unserved if not u.reason]
    return found


def _route(
    route: Route, scenario: Scenario, by_id: dict[str, OrderParsed], matrix: MatrixProvider
) -> list[str]:
    vehicle = next((v for v in scenario.fleet if v.id == route.vehicle_id), None)
    if vehicle is None:
        return [f"route uses unknown vehicle {route.vehicle_id}"]
    unknown = _unknown_refs(route, scenario, by_id)
    if unknown:
        return unknown
    found = (
        [] if route.depot == vehicle.depot else [f"{vehicle.id} does not start at {route.depot}"]
    )
    found += _shift(route, vehicle)
    orders = [by_id[stop.order_id] for stop in route.stops if stop.order_id in by_id]
    found += _stops(route, scenario, by_id)
    found += _loads(route, vehicle, orders, scenario)
    found += _timing(route, vehicle, scenario, matrix)
    return found


def _unknown_refs(route: Route, scenario: Scenario, by_id: dict[str, OrderParsed]) -> list[str]:
    """Places or SKUs the scenario does not know make every other check meaningless."""
    places = {route.depot, *(stop.location for stop in route.stops)}
    skus = {ln.sku for stop in route.stops for ln in stop.lines}
    skus |= {ln.sku for s in route.stops if s.order_id in by_id for ln in by_id[s.order_id].lines}
    bad = sorted(places - set(scenario.location_by_id)) + sorted(skus - set(scenario.item_by_sku))
    return [f"{route.vehicle_id} route refers to unknown {', '.join(bad)}"] if bad else []


def _shift(route: Route, vehicle: Vehicle) -> list[str]:
    midnight = route.start.replace(hour=0, minute=0, second=0, microsecond=0)
    opens = midnight + timedelta(minutes=vehicle.shift.start_min)
    closes = midnight + timedelta(minutes=vehicle.shift.end_min)
    if route.start < opens or route.end > closes or route.end < route.start:
        return [f"{vehicle.id} route {route.start:%F %H:%M}-{route.end:%H:%M} is outside its shift"]
    return []


def _stops(route: Route, scenario: Scenario, by_id: dict[str, OrderParsed]) -> list[str]:
    found = []
    vehicle = next(v for v in scenario.fleet if v.id == route.vehicle_id)
    for stop in route.stops:
        order = by_id.get(stop.order_id)
        if order is None:
            continue
        if stop.location != order.destination or set(stop.lines) != set(order.lines):
            found.append(f"stop for {order.order_id} does not match the order's place or lines")
        handling = {h for ln in order.lines for h in scenario.item_by_sku[ln.sku].handling}
        missing = handling - set(vehicle.skills)
        if missing:
            found.append(f"{vehicle.id} lacks {', '.join(sorted(missing))} for {order.order_id}")
        if order.not_before and stop.arrival < order.not_before:
            found.append(f"{order.order_id} arrives {stop.arrival:%F %H:%M}, before its window")
    return found


def _lateness(route: Route, by_id: dict[str, OrderParsed], max_late_min: int) -> list[str]:
    """Arrivals after deliver_by: declared as they are, and no later than allowed."""
    found = []
    for stop in route.stops:
        order = by_id.get(stop.order_id)
        if order is None:
            continue
        late = 0
        if order.deliver_by and stop.arrival > order.deliver_by:
            late = math.ceil((stop.arrival - order.deliver_by).total_seconds() / 60)
            allowed = 0 if order.priority is Priority.URGENT else max_late_min
            if late > allowed:
                found.append(
                    f"{order.order_id} arrives {stop.arrival:%F %H:%M}, {late} min after "
                    f"deliver_by; {allowed} min allowed"
                )
        if stop.late_min != late:
            found.append(f"{order.order_id} declares {stop.late_min} min late; it is {late}")
    return found


def _trips(route: Route) -> list[tuple[str, list[Stop]]]:
    """The route's trips: the depot each loads at and the stops it delivers."""
    bounds = [0, *(r.after_stops for r in route.reloads), len(route.stops)]
    depots = [route.depot, *(r.depot for r in route.reloads)]
    return [
        (depot, list(route.stops[a:b]))
        for depot, a, b in zip(depots, bounds, bounds[1:], strict=False)
    ]


def _load(orders: Sequence[OrderParsed], scenario: Scenario) -> tuple[float, float]:
    items = [(scenario.item_by_sku[ln.sku], ln.quantity) for o in orders for ln in o.lines]
    kg = sum(item.weight_kg * qty for item, qty in items)
    m3 = sum(item.volume_m3 * qty for item, qty in items)
    return kg, m3


def _loads(
    route: Route, vehicle: Vehicle, orders: list[OrderParsed], scenario: Scenario
) -> list[str]:
    """Each trip (all of the route without reloads) within capacity, loads as declared."""
    by_id = {o.order_id: o for o in orders}
    found = []
    for k, (depot, stops) in enumerate(_trips(route)):
        kg, m3 = _load([by_id[s.order_id] for s in stops if s.order_id in by_id], scenario)
        trip = f" on trip {k + 1} from {depot}" if route.reloads else ""
        if kg > vehicle.capacity.weight_kg + _TOL:
            found.append(
                f"{vehicle.id} carries {kg:.1f} kg{trip}, over {vehicle.capacity.weight_kg} kg"
            )
        if m3 > vehicle.capacity.volume_m3 + _TOL:
            found.append(
                f"{vehicle.id} carries {m3:.2f} m3{trip}, over {vehicle.capacity.volume_m3} m3"
            )
        if k and (
            abs(route.reloads[k - 1].load_kg - kg) > 0.01
            or abs(route.reloads[k - 1].load_m3 - m3) > 0.001
        ):
            found.append(f"{vehicle.id} declares a reload at {depot} that differs from its trip")
    kg, m3 = _load(orders, scenario)
    if abs(route.load_kg - kg) > 0.01 or abs(route.load_m3 - m3) > 0.001:
        found.append(f"{vehicle.id} declares a load that differs from its stops' lines")
    return found


@dataclass(frozen=True)
class _Visit:
    """A place the route stops at: a delivery, or a reload at a depot."""

    name: str
    location: str
    arrival: datetime
    departure: datetime
    minutes: int  # the least time the visit takes


def _visits(route: Route, scenario: Scenario) -> list[_Visit]:
    """Deliveries and reloads in the order driven."""
    vehicle = next(v for v in scenario.fleet if v.id == route.vehicle_id)
    rules = scenario.rules(vehicle)
    reloads = {r.after_stops: r for r in route.reloads}
    out = []
    for i, stop in enumerate(route.stops):
        minutes = scenario.location_by_id[stop.location].service_min
        out.append(_Visit(stop.order_id, stop.location, stop.arrival, stop.departure, minutes))
        if (r := reloads.get(i + 1)) is not None:
            name = f"reload at {r.depot}"
            out.append(_Visit(name, r.depot, r.arrival, r.departure, rules.reload_min or 0))
    return out


def _legs(
    route: Route, vehicle: Vehicle, scenario: Scenario, matrix: MatrixProvider
) -> list[tuple[str, datetime, datetime, int, int]]:
    """Each drive: where to, when it may leave and must arrive, metres and minutes."""
    visits = _visits(route, scenario)
    places = [route.depot, *(v.location for v in visits), route.depot]
    points = [(scenario.location_by_id[p].lat, scenario.location_by_id[p].lon) for p in places]
    dist = matrix.matrix(points)
    leaves = [route.start, *(v.departure for v in visits)]
    arrives = [*(v.arrival for v in visits), route.end]
    names = [*(v.name for v in visits), f"return to {route.depot}"]
    return [
        (names[i], leaves[i], arrives[i], dist[i][i + 1], vehicle_drive(dist[i][i + 1], vehicle))
        for i in range(len(places) - 1)
    ]


def vehicle_drive(metres: int, vehicle: Vehicle) -> int:
    """Minutes the vehicle needs for the distance."""
    return travel_minutes(metres, vehicle.speed_kmh)


def _timing(
    route: Route, vehicle: Vehicle, scenario: Scenario, matrix: MatrixProvider
) -> list[str]:
    """Each drive no faster than the vehicle, with any break taken on it; each visit its time."""
    found = []
    for visit in _visits(route, scenario):
        if visit.departure < visit.arrival + timedelta(minutes=visit.minutes):
            what = visit.name if visit.name.startswith("reload") else f"{visit.name} service"
            found.append(f"{vehicle.id} leaves before its {what} time is over")
    legs = _legs(route, vehicle, scenario, matrix)
    for name, leaves, arrives, _, minutes in legs:
        resting = sum(
            (b.end - b.start for b in route.breaks if leaves <= b.start and b.end <= arrives),
            timedelta(),
        )
        if arrives < leaves + timedelta(minutes=minutes) + resting:
            pause = " and the break on the way" if resting else ""
            found.append(f"{vehicle.id}: {name} is sooner than the drive{pause} allows")
    metres = sum(leg[3] for leg in legs)
    if abs(route.distance_km - metres / 1000) > 0.01:
        found.append(f"{vehicle.id} declares {route.distance_km} km; the stops make {metres} m")
    return found


def _rules(
    route: Route,
    scenario: Scenario,
    by_id: dict[str, OrderParsed],
    matrix: MatrixProvider,
    epoch: datetime,
) -> list[str]:
    """The vehicle type's rules: reloads where allowed, its break, its driving limit."""
    vehicle = next((v for v in scenario.fleet if v.id == route.vehicle_id), None)
    if vehicle is None or _unknown_refs(route, scenario, by_id):
        return []  # _route reports those
    rules = scenario.rules(vehicle)
    found = _reload_rules(route, vehicle, rules, scenario, by_id)
    found += _break_rules(route, vehicle, rules, scenario, epoch)
    if rules.max_drive_min is not None:
        driven = sum(leg[4] for leg in _legs(route, vehicle, scenario, matrix))
        if driven > rules.max_drive_min:
            found.append(
                f"{vehicle.id} drives {driven} min in its shift; at most "
                f"{rules.max_drive_min} min allowed"
            )
    return found


def _reload_rules(
    route: Route,
    vehicle: Vehicle,
    rules: VehicleType,
    scenario: Scenario,
    by_id: dict[str, OrderParsed],
) -> list[str]:
    found = []
    if route.reloads and rules.reload_min is None:
        found.append(f"{vehicle.id} reloads, but vehicles of type {vehicle.type} make one trip")
    positions = [r.after_stops for r in route.reloads]
    if positions != sorted(set(positions)) or any(p > len(route.stops) for p in positions):
        found.append(f"{vehicle.id} declares reloads out of the order of its stops")
        return found
    for depot, stops in _trips(route):
        loc = scenario.location_by_id.get(depot)
        if loc is None or loc.kind != "depot":
            found.append(f"{vehicle.id} reloads at {depot}, which is not a depot")
            continue
        skus = {ln.sku for s in stops if s.order_id in by_id for ln in by_id[s.order_id].lines}
        if not scenario.depot_holds(depot, skus):
            missing = sorted(skus - set(loc.holds or ()))
            found.append(
                f"{vehicle.id} loads {', '.join(missing)} at {depot}, which does not hold it"
            )
    return found


def _break_rules(
    route: Route, vehicle: Vehicle, rules: VehicleType, scenario: Scenario, epoch: datetime
) -> list[str]:
    """The break its type requires, long enough and within its window, when the window still
    fits in the shift from the plan's start; each break off the road and out of every stop."""
    found = []
    rule = rules.break_
    midnight = route.start.replace(hour=0, minute=0, second=0, microsecond=0)
    if rule is not None:
        opens = max(
            midnight + timedelta(minutes=clock_min(rule.earliest)),
            epoch,
            midnight + timedelta(minutes=vehicle.shift.start_min),
        )
        closes = min(
            midnight + timedelta(minutes=clock_min(rule.latest)),
            midnight + timedelta(minutes=vehicle.shift.end_min),
        )
        length = timedelta(minutes=rule.length_min)
        taken = [
            b
            for b in route.breaks
            if opens <= b.start and b.end <= closes and b.end - b.start >= length
        ]
        if closes - opens >= length and not taken:
            found.append(
                f"{vehicle.id} takes no {rule.length_min} min break between "
                f"{opens:%H:%M} and {closes:%H:%M}"
            )
    visits = _visits(route, scenario)
    leaves = [route.start, *(v.departure for v in visits)]
    gaps = list(zip(leaves, [*(v.arrival for v in visits), route.end], strict=True))
    for b in route.breaks:
        outside = b.end <= route.start or b.start >= route.end
        if b.end <= b.start or not (outside or any(a <= b.start and b.end <= z for a, z in gaps)):
            found.append(
                f"{vehicle.id} declares a break {b.start:%H:%M}-{b.end:%H:%M} that overlaps a stop"
            )
    return found


def _overlaps(routes: Sequence[Route]) -> list[str]:
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for route in routes:
        spans.setdefault(route.vehicle_id, []).append((route.start, route.end))
    found = []
    for vehicle_id, times in spans.items():
        times.sort()
        if any(b[0] < a[1] for a, b in pairwise(times)):
            found.append(f"{vehicle_id} has routes that overlap in time")
    return found


def lock_violations(plan: PlanProposed, locks: Sequence[Lock]) -> list[str]:
    """Each locked order on its vehicle, not unserved, and in its locked order on that vehicle."""
    unserved = {item.order_id for item in plan.unserved}
    served: dict[str, str] = {}
    sequence: dict[str, list[str]] = {}
    for route in sorted(plan.routes, key=lambda r: (r.vehicle_id, r.start)):
        for stop in route.stops:
            served[stop.order_id] = route.vehicle_id
            sequence.setdefault(route.vehicle_id, []).append(stop.order_id)
    found = []
    for lock in locks:
        if lock.order_id in unserved:
            found.append(
                f"locked order {lock.order_id} is unserved; it must stay on {lock.vehicle_id}"
            )
        elif lock.order_id in served and served[lock.order_id] != lock.vehicle_id:
            found.append(
                f"locked order {lock.order_id} moved from {lock.vehicle_id} "
                f"to {served[lock.order_id]}"
            )
    for vehicle_id, stops in sequence.items():
        rank = {lk.order_id: lk.position for lk in locks if lk.vehicle_id == vehicle_id}
        kept = [rank[oid] for oid in stops if oid in rank]
        if kept != sorted(kept):
            found.append(f"{vehicle_id} serves its locked stops out of their locked order")
    return found
