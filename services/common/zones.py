"""Closed areas, for every service that checks a route against them (pure): the leg geometry,
the latest declaration per zone, and the legs of a plan that cross a zone while it is closed.

Geometry is done in a local equirectangular projection around each zone (x = R·Δlon·cos lat₀,
y = R·Δlat): at theater scale (a zone and a leg within a few hundred km) its error is far
below a zone's own uncertainty. Legs are straight segments between stops; the antimeridian and
the poles are out of scope. The planner forbids such legs when it solves; the release gate
re-checks every plan it is asked to release and lets go of released stops a zone cuts off.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from schemas.envelope import sha256_hex
from schemas.plans import PlanProposed, Route
from schemas.zones import ZoneDeclared
from services.common.scenario import Scenario

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
Point = tuple[float, float]  # (lat, lon) degrees
XY = tuple[float, float]  # metres east, north of a zone's origin


def project(p: Point, origin: Point) -> XY:
    lat0 = math.radians(origin[0])
    x = EARTH_RADIUS_M * math.radians(p[1] - origin[1]) * math.cos(lat0)
    y = EARTH_RADIUS_M * math.radians(p[0] - origin[0])
    return x, y


def unproject(xy: XY, origin: Point) -> Point:
    lat0 = math.radians(origin[0])
    lat = origin[0] + math.degrees(xy[1] / EARTH_RADIUS_M)
    lon = origin[1] + math.degrees(xy[0] / (EARTH_RADIUS_M * math.cos(lat0)))
    return lat, lon


def _cross(o: XY, a: XY, b: XY) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _on_segment(p: XY, a: XY, b: XY) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def segments_intersect(a: XY, b: XY, c: XY, d: XY) -> bool:
    """Whether segment ab meets segment cd (touching counts)."""
    d1, d2, d3, d4 = _cross(c, d, a), _cross(c, d, b), _cross(a, b, c), _cross(a, b, d)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and d1 * d2 != 0 and d3 * d4 != 0:
        return True
    return (
        (d1 == 0 and _on_segment(a, c, d))
        or (d2 == 0 and _on_segment(b, c, d))
        or (d3 == 0 and _on_segment(c, a, b))
        or (d4 == 0 and _on_segment(d, a, b))
    )


def inside_polygon(p: XY, ring: Sequence[XY]) -> bool:
    """Even-odd rule: whether p lies inside the ring (a point on an edge may go either way)."""
    inside = False
    for a, b in zip(ring, [*ring[1:], ring[0]], strict=True):
        if (a[1] > p[1]) != (b[1] > p[1]):
            x = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if p[0] < x:
                inside = not inside
    return inside


def segment_crosses_polygon(a: Point, b: Point, ring: Sequence[Point]) -> bool:
    """Whether the leg a→b enters the polygon: an end inside it, or an edge crossed."""
    origin = ring[0]
    xy = [project(p, origin) for p in ring]
    pa, pb = project(a, origin), project(b, origin)
    if inside_polygon(pa, xy) or inside_polygon(pb, xy):
        return True
    return any(segments_intersect(pa, pb, c, d) for c, d in zip(xy, [*xy[1:], xy[0]], strict=True))


def segment_crosses_circle(a: Point, b: Point, center: Point, radius_m: float) -> bool:
    """Whether the leg a→b comes within radius_m of the centre."""
    (ax, ay), (bx, by) = project(a, center), project(b, center)
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
    return math.hypot(ax + t * dx, ay + t * dy) <= radius_m


def crosses(a: Point, b: Point, zone: ZoneDeclared) -> bool:
    """Whether the leg a→b crosses the zone's area (its time window aside)."""
    if zone.circle is not None:
        c = zone.circle
        return segment_crosses_circle(a, b, (c.center.lat, c.center.lon), c.radius_m)
    if zone.polygon is not None:
        return segment_crosses_polygon(a, b, [(p.lat, p.lon) for p in zone.polygon])
    return False


def active(zone: ZoneDeclared, start: datetime, end: datetime) -> bool:
    """Whether the zone is closed at some moment of [start, end]."""
    if zone.lifted:
        return False
    opens = zone.valid_from is None or zone.valid_from <= end
    return opens and (zone.valid_until is None or zone.valid_until > start)


@dataclass
class ZoneBook:
    """The closed areas as the compacted topic holds them: the latest declaration per zone."""

    zones: dict[str, ZoneDeclared] = field(default_factory=dict)

    def apply(self, zone_id: str, zone: ZoneDeclared | None) -> ZoneDeclared | None:
        """Fold one record (None: a tombstone); the zone if it is newly closed or changed."""
        known = self.zones.get(zone_id)
        if zone is not None and known is not None and zone.declared_at < known.declared_at:
            return None  # an older declaration replayed: the newer one holds
        if zone is None or zone.lifted:
            self.zones.pop(zone_id, None)
            return None
        self.zones[zone_id] = zone
        return zone if known is None or known.signed_payload() != zone.signed_payload() else None

    def active(self, start: datetime, end: datetime) -> list[ZoneDeclared]:
        """The zones closed at some moment of [start, end], by id."""
        return [z for _, z in sorted(self.zones.items()) if active(z, start, end)]

    @property
    def version(self) -> str:
        """What a plan was checked against: how many zones, and the hash of their declarations."""
        declared = [self.zones[k].signed_payload() for k in sorted(self.zones)]
        return f"zones-{len(declared)}@{sha256_hex(declared)[:16]}"


@dataclass(frozen=True)
class Leg:
    """One drive of a route: from, to, and when it may happen."""

    vehicle_id: str
    origin: str
    to: str
    a: Point
    b: Point
    leaves: datetime
    arrives: datetime
    order_id: str | None  # the stop it drives to; None for the drive back to the depot


def legs(route: Route, scenario: Scenario) -> list[Leg]:
    """The drives of a route, each between the departure before it and the arrival after it."""
    where = scenario.location_by_id
    places = [route.depot, *(s.location for s in route.stops), route.depot]
    times = [route.start, *(t for s in route.stops for t in (s.arrival, s.departure)), route.end]
    orders: list[str | None] = [s.order_id for s in route.stops]
    out = []
    for k, (origin, to) in enumerate(pairwise(places)):
        out.append(
            Leg(
                route.vehicle_id,
                origin,
                to,
                (where[origin].lat, where[origin].lon),
                (where[to].lat, where[to].lon),
                times[2 * k],
                times[2 * k + 1],
                orders[k] if k < len(orders) else None,
            )
        )
    return out


def crossings(
    plan: PlanProposed,
    scenario: Scenario,
    zones: Iterable[ZoneDeclared],
    after: datetime | None = None,
) -> list[tuple[Leg, ZoneDeclared]]:
    """Every leg (still to drive: arriving after `after`) that crosses a zone while closed."""
    zones = list(zones)
    found = []
    for route in plan.routes:
        if any(p not in scenario.location_by_id for p in (route.depot, *route_places(route))):
            continue  # unknown places are verify's to report
        for leg in legs(route, scenario):
            if after is not None and leg.arrives <= after:
                continue
            for zone in zones:
                if active(zone, leg.leaves, leg.arrives) and crosses(leg.a, leg.b, zone):
                    found.append((leg, zone))
    return found


def route_places(route: Route) -> list[str]:
    """The stops' locations of a route, in order."""
    return [stop.location for stop in route.stops]


def cut_vehicles(
    plan: PlanProposed, scenario: Scenario, zone: ZoneDeclared, now: datetime
) -> dict[str, tuple[str, ...]]:
    """Vehicle → its stops, for each route a newly closed zone cuts in what is left to drive."""
    cut = {leg.vehicle_id for leg, _ in crossings(plan, scenario, [zone], now)}
    stops: dict[str, tuple[str, ...]] = {}
    for route in sorted(plan.routes, key=lambda r: r.start):
        if route.vehicle_id in cut:
            stops[route.vehicle_id] = (*stops.get(route.vehicle_id, ()), *route_places_ids(route))
    return stops


def vehicles_cut(
    plan: PlanProposed, scenario: Scenario, zones: Iterable[ZoneDeclared], now: datetime
) -> set[str]:
    """The vehicles whose rest of a route crosses any of the zones while it is closed: their
    released stops are not kept locked (so a restart, which forgets a disruption, still frees
    them, and a lifted zone locks them again)."""
    return {leg.vehicle_id for leg, _ in crossings(plan, scenario, zones, now)}


def route_places_ids(route: Route) -> tuple[str, ...]:
    """The order ids of a route's stops, in order."""
    return tuple(stop.order_id for stop in route.stops)
