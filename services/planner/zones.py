"""Closed areas in the planner: the matrix that forbids crossing legs, the ring a road service
avoids, the re-check of a solved plan, and why an order is out of reach (pure). The geometry and
the zone fold are shared with the release gate (services.common.zones).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from schemas.plans import PlanProposed
from schemas.zones import ZoneDeclared
from services.common.scenario import Scenario
from services.common.zones import Point, ZoneBook, crosses, crossings, unproject
from services.planner.problem import MatrixProvider

# A leg that crosses a closed area: longer than any drive a shift allows (20 000 km at the
# fleet's top speed of 200 km/h is 100 h), so no solver can fit it into a route, and still small
# enough that the drop penalties built on the longest leg stay far from overflowing.
FORBIDDEN_M = 20_000_000
# Circles become polygons of this many corners where a road service wants polygons.
_CIRCLE_CORNERS = 16


def ring(zone: ZoneDeclared) -> tuple[Point, ...]:
    """The zone as a polygon ring: its corners, or a polygon around its circle."""
    if zone.polygon is not None:
        return tuple((p.lat, p.lon) for p in zone.polygon)
    if zone.circle is None:
        return ()
    center = (zone.circle.center.lat, zone.circle.center.lon)
    # The polygon's edges touch the circle from outside, so the polygon holds all of it.
    r = zone.circle.radius_m / math.cos(math.pi / _CIRCLE_CORNERS)
    steps = [2 * math.pi * k / _CIRCLE_CORNERS for k in range(_CIRCLE_CORNERS)]
    return tuple(unproject((r * math.sin(t), r * math.cos(t)), center) for t in steps)


@dataclass(frozen=True)
class ZoneAwareMatrix:
    """A matrix whose legs crossing a closed area cost FORBIDDEN_M: a drive no shift can fit."""

    inner: MatrixProvider
    zones: tuple[ZoneDeclared, ...]

    def matrix(self, points: Sequence[Point]) -> list[list[int]]:
        """The inner matrix, every crossing leg forbidden."""
        rows = self.inner.matrix(points)
        for i, a in enumerate(points):
            for j, b in enumerate(points):
                if i != j and any(crosses(a, b, zone) for zone in self.zones):
                    rows[i][j] = FORBIDDEN_M
        return rows


def zone_violations(plan: PlanProposed, scenario: Scenario, book: ZoneBook) -> list[str]:
    """The independent re-check: no leg crosses a zone while it is closed, and the plan names
    the zone version it was checked against."""
    found = [
        f"{leg.vehicle_id} drives {leg.origin}→{leg.to} across closed area {zone.zone_id} "
        f"({zone.reason or 'no reason given'}) at {leg.leaves:%F %H:%M}"
        for leg, zone in crossings(plan, scenario, book.zones.values())
    ]
    if plan.zones != book.version:
        found.append(f"plan was checked against {plan.zones or 'no zones'}, not {book.version}")
    return found


def blocked_reason(
    destination: str, scenario: Scenario, zones: Sequence[ZoneDeclared]
) -> str | None:
    """Why a closed area keeps an order from its destination, if one does: the place lies in a
    zone, or the direct drive from every depot crosses one."""
    where = scenario.location_by_id
    to = (where[destination].lat, where[destination].lon)
    inside = [z for z in zones if crosses(to, to, z)]
    if inside:
        return f"{destination} lies in closed area {_named(inside)}"
    depots = sorted({v.depot for v in scenario.fleet})
    blocking = []
    for depot in depots:
        start = (where[depot].lat, where[depot].lon)
        found = [z for z in zones if crosses(start, to, z)]
        if not found:
            return None
        blocking += [z for z in found if z not in blocking]
    if not blocking:
        return None
    return (
        f"the direct drive from every depot to {destination} crosses closed area {_named(blocking)}"
    )


def _named(zones: Sequence[ZoneDeclared]) -> str:
    return ", ".join(f"{z.zone_id} ({z.reason or 'no reason given'})" for z in zones)


def explained(
    plan: PlanProposed,
    destinations: Mapping[str, str],
    scenario: Scenario,
    zones: Sequence[ZoneDeclared],
) -> PlanProposed:
    """The plan with each order a closed area keeps out of reach said to be unserved for that
    (the screen alone would report a 20 000 km drive); `destinations` maps order id to place.
    The caller re-hashes the plan."""
    if not zones or not plan.unserved:
        return plan
    unserved = []
    for item in plan.unserved:
        place = destinations.get(item.order_id, "")
        why = blocked_reason(place, scenario, zones) if place in scenario.location_by_id else None
        unserved.append(item.model_copy(update={"reason": why}) if why else item)
    return plan.model_copy(update={"unserved": tuple(unserved)})
