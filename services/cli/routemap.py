"""A self-contained HTML route map (inline SVG, no external assets: works air-gapped)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape

from schemas.orders import OrderParsed
from schemas.plans import PlanProposed
from services.cli.view import NOT_FOUND, signed_by
from services.common.scenario import Scenario

WIDTH, HEIGHT, MARGIN = 900, 640, 60
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


def render(
    plan: PlanProposed, scenario: Scenario, orders: Mapping[str, OrderParsed] | None = None
) -> str:
    """HTML with one coloured polyline per route, depots as squares, stops as numbered dots;
    hovering over a stop shows its order's text (`orders`, by order id)."""
    orders = orders or {}
    where = scenario.location_by_id
    used = {r.depot for r in plan.routes} | {s.location for r in plan.routes for s in r.stops}
    points = [(where[i].lat, where[i].lon) for i in used if i in where] or [(0.0, 0.0)]
    lon0, lat0, squash, scale, _ = _projector(points)

    def xy(location: str) -> tuple[float, float]:
        loc = where[location]
        return (MARGIN + (loc.lon - lon0) * squash * scale, MARGIN + (lat0 - loc.lat) * scale)

    shapes: list[str] = []
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
