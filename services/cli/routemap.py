"""A self-contained HTML route map (inline SVG, no external assets: works air-gapped)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

from schemas.orders import OrderParsed
from schemas.plans import PlanProposed
from schemas.zones import ZoneDeclared
from services.cli.view import NOT_FOUND, signed_by
from services.common.scenario import Scenario

WIDTH, HEIGHT, MARGIN = 900, 640, 60
METRES_PER_DEGREE = 111_195.0  # of latitude, on the mean Earth sphere
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def _projector(points: list[tuple[float, float]]) -> tuple[float, float, float, float, float]:
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    squash = math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(lons) - min(lons)) * squash, 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN) / span_y)
    return min(lons), max(lats), squash, scale, 0.0


def tooltip(order_id: str, order: OrderParsed | None) -> str:
    """What hovering over a stop shows: the requester's words, and what was cut as injection."""
    if order is None:
        return f"{order_id}: {NOT_FOUND}"
    sender = signed_by(order)
    cut = "".join(f"\ncut as injection: {segment}" for segment in order.injected)
    signed = f"signed by {sender}" if sender is not None else "unsigned"
    return f"{order_id} ({signed}, fields by {order.parser or 'unknown'}):\n{order.text}{cut}"


def _zone_points(zone: ZoneDeclared) -> list[tuple[float, float]]:
    if zone.polygon is not None:
        return [(p.lat, p.lon) for p in zone.polygon]
    if zone.circle is None:
        return []
    c, r = zone.circle.center, zone.circle.radius_m / METRES_PER_DEGREE
    return [(c.lat - r, c.lon), (c.lat + r, c.lon)]


def _zone_shape(zone: ZoneDeclared, at: Callable[[float, float], tuple[float, float]]) -> str:
    """A closed area as a hatched red shape, its id and reason as the hover text."""
    style = 'fill="#d62728" fill-opacity="0.18" stroke="#d62728" stroke-dasharray="6 3"'
    title = f"<title>{escape(f'{zone.zone_id} closed: {zone.reason}')}</title>"
    if zone.circle is not None:
        x, y = at(zone.circle.center.lat, zone.circle.center.lon)
        top = at(zone.circle.center.lat + zone.circle.radius_m / METRES_PER_DEGREE, 0.0)[1]
        body = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{max(y - top, 2):.1f}" {style}/>'
    else:
        corners = " ".join(f"{x:.1f},{y:.1f}" for x, y in (at(a, b) for a, b in _zone_points(zone)))
        body = f'<polygon points="{corners}" {style}/>'
        x, y = at(*_zone_points(zone)[0])
    label = f'<text x="{x + 6:.1f}" y="{y - 6:.1f}" font-size="12" fill="#d62728">'
    return f"<g>{body}{label}{escape(zone.zone_id)}</text>{title}</g>"


def render(
    plan: PlanProposed,
    scenario: Scenario,
    orders: Mapping[str, OrderParsed] | None = None,
    zones: Sequence[ZoneDeclared] = (),
) -> str:
    """HTML with one coloured polyline per route, depots as squares, stops as numbered dots,
    closed areas (`zones`) as red shapes; hovering over a stop shows its order's text
    (`orders`, by order id)."""
    orders = orders or {}
    where = scenario.location_by_id
    used = {r.depot for r in plan.routes} | {s.location for r in plan.routes for s in r.stops}
    points = [(where[i].lat, where[i].lon) for i in used if i in where]
    points += [p for zone in zones for p in _zone_points(zone)]
    lon0, lat0, squash, scale, _ = _projector(points or [(0.0, 0.0)])

    def at(lat: float, lon: float) -> tuple[float, float]:
        return (MARGIN + (lon - lon0) * squash * scale, MARGIN + (lat0 - lat) * scale)

    def xy(location: str) -> tuple[float, float]:
        loc = where[location]
        return at(loc.lat, loc.lon)

    shapes: list[str] = [_zone_shape(zone, at) for zone in zones]
    legend: list[str] = []
    for n, route in enumerate(plan.routes):
        colour = COLOURS[n % len(COLOURS)]
        path = [route.depot, *(s.location for s in route.stops), route.depot]
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, path))
        shapes.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" '
            f'stroke-width="3" opacity="0.8"/>'
        )
        for k, stop in enumerate(route.stops, start=1):
            x, y = xy(stop.location)
            label = escape(f"{k}. {stop.location} {stop.arrival:%H:%MZ}")
            # An SVG <title> is the hover text; the order text is untrusted, so it is escaped.
            title = f"<title>{escape(tooltip(stop.order_id, orders.get(stop.order_id)))}</title>"
            shapes.append(
                f'<g><circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}"/>'
                f'<text x="{x + 9:.1f}" y="{y + 4:.1f}" font-size="12">{label}</text>{title}</g>'
            )
        legend.append(
            f'<li style="color:{colour}">{escape(route.vehicle_id)}: '
            f"{len(route.stops)} stop(s), {route.distance_km:.1f} km</li>"
        )
    for depot in {r.depot for r in plan.routes}:
        x, y = xy(depot)
        shapes.append(
            f'<rect x="{x - 7:.1f}" y="{y - 7:.1f}" width="14" height="14" '
            f'fill="black"/><text x="{x + 10:.1f}" y="{y - 8:.1f}" font-size="12" '
            f'font-weight="bold">{escape(depot)}</text>'
        )
    unserved = "".join(f"<li>{escape(u.order_id)}: {escape(u.reason)}</li>" for u in plan.unserved)
    legend += [
        f'<li style="color:#d62728">closed area {escape(z.zone_id)}: {escape(z.reason)}</li>'
        for z in zones
    ]
    return (
        f"<!doctype html><meta charset='utf-8'><title>{escape(plan.plan_id)}</title>"
        f"<body style='font-family:sans-serif'><h2>{escape(plan.plan_id)}</h2>"
        f"<p>{len(plan.order_ids)} orders, {plan.distance_km:.1f} km, hash "
        f"{plan.plan_hash[:16]}…</p>"
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
        f"style='border:1px solid #ccc'>{''.join(shapes)}</svg>"
        f"<ul>{''.join(legend)}</ul>"
        + (f"<h3>Unserved</h3><ul>{unserved}</ul>" if unserved else "")
        + "</body>"
    )
