"""Rich rendering of plans for humans."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from rich.console import RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from schemas.envelope import utcnow
from schemas.orders import OrderParsed
from schemas.plans import PlanProposed, Route
from schemas.topics import Topic
from services.cli.context import console, settings
from services.cli.ledger import PlanView
from services.common.scenario import Scenario, load_scenario
from services.common.signing import TrustStore, UntrustedStoreError
from services.gate.rules import approvals_required, risk_reasons


@cache
def _gate_inputs() -> tuple[Scenario, TrustStore]:
    """What the gate recomputes risk from: the scenario catalog and the trust store."""
    common = settings()
    try:
        trust = TrustStore.load(common.trust_store)
    except (UntrustedStoreError, ValueError):
        trust = TrustStore()  # nobody authenticated: the view shows the stricter count
    return load_scenario(common.scenario).scenario, trust


def needed(plan: PlanProposed) -> int:
    """Approvals the gate will want for this plan, recomputed as the gate does."""
    scenario, trust = _gate_inputs()
    return approvals_required(plan, scenario, trust, utcnow())


def gate_risk(plan: PlanProposed) -> tuple[str, ...]:
    """Why the gate wants two people for this plan (empty when one suffices)."""
    scenario, trust = _gate_inputs()
    return risk_reasons(plan, scenario, trust, utcnow())


def _age(when: datetime) -> str:
    minutes = int((utcnow() - when).total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def plans_table(views: list[PlanView]) -> Table:
    """One row per plan: what a reviewer scans first."""
    table = Table(title="Plans", header_style="bold")
    for column in (
        "plan",
        "status",
        "age",
        "orders",
        "vehicles",
        "km",
        "unserved",
        "risk",
        "approvals",
        "expires",
    ):
        table.add_column(column)
    for view in views:
        plan = view.plan
        table.add_row(
            escape(plan.plan_id),
            view.status,
            _age(plan.occurred_at),
            str(len(plan.order_ids)),
            str(len(plan.routes)),
            f"{plan.distance_km:.0f}",
            str(len(plan.unserved)),
            escape(", ".join(gate_risk(plan)) or "-"),
            f"{len(view.approvers)}/{needed(plan)}",
            plan.expires_at.strftime("%d %H:%MZ"),
        )
    return table


NOT_FOUND = f"order text not found on {Topic.ORDERS_PARSED.value}"
INJECTED_STYLE = "bold red reverse"


def signed_by(order: OrderParsed) -> str | None:
    """Who signed "I sent this order", as claimed: the gate verifies the signature, not the CLI."""
    return order.submitter.operator_id if order.submitter is not None else None


def order_json(order: OrderParsed | None) -> dict[str, Any] | None:
    """The words behind a stop and how they were read; None when the order was not found."""
    if order is None:
        return None
    return {
        "text": order.text,
        "injected": list(order.injected),
        "flags": list(order.flags),
        "requester": order.requester,
        "submitted_by": order.submitted_by,
        "signed_by": signed_by(order),
        "parser": order.parser,
        "confidence": dict(order.confidence),
        "sources": dict(order.sources),
        "spans": {name: [list(span) for span in spans] for name, spans in order.spans.items()},
    }


def stop_order_ids(plan: PlanProposed) -> list[str]:
    """The orders the plan delivers, in route and stop order."""
    return [stop.order_id for route in plan.routes for stop in route.stops]


def plan_orders_json(
    plan: PlanProposed, orders: Mapping[str, OrderParsed]
) -> dict[str, dict[str, Any] | None]:
    """`order_json` for every stop of the plan, keyed by order id."""
    return {order_id: order_json(orders.get(order_id)) for order_id in stop_order_ids(plan)}


def chars(spans: tuple[tuple[int, int], ...]) -> str:
    """Where in the text a field was read, as the reader counts: " (chars 12–25, 40–44)"."""
    return f" (chars {', '.join(f'{a + 1}–{b}' for a, b in spans)})" if spans else ""


def marked_text(
    text: str, injected: tuple[str, ...], read: tuple[tuple[int, int], ...] = ()
) -> Text:
    """The order text with the words the fields were read from underlined and every verbatim
    copy of an injected segment highlighted."""
    # The screen cuts segments from the normalised text: one written with look-alike letters is
    # not found verbatim here, and is only listed on its own line below the text.
    marked = Text(text)
    for start, end in read:
        marked.stylize("underline", start, end)
    for segment in filter(None, injected):
        for hit in re.finditer(re.escape(segment), text):
            marked.stylize(INJECTED_STYLE, hit.start(), hit.end())
    return marked


def _confidence(scores: Mapping[str, float]) -> str:
    return ", ".join(f"{field} {score:.2f}" for field, score in sorted(scores.items())) or "none"


def order_lines(order_id: str, order: OrderParsed | None, where: str = "") -> list[RenderableType]:
    """What the requester wrote for one stop and how the parser read it, for the approver.

    Order texts are the most attacker-shaped data the CLI prints, so they go out as `Text`,
    which is never parsed as markup: `escape()` followed by a tag can still be undone by a
    text ending in backslashes.
    """
    if order is None:
        return [Text.assemble(f"  {where}order ", order_id, ": ", (NOT_FOUND, "yellow"))]
    sender = signed_by(order)
    signed = f"signed by {sender}" if sender is not None else "unsigned"
    return [
        Text.assemble(
            f"  {where}order ", (order_id, "bold"), f", fields by {order.parser or 'unknown'}"
        ),
        Text.assemble(
            f"    requester {order.requester or '-'}, submitted_by {order.submitted_by or '-'}, ",
            (signed, "green" if sender is not None else "yellow"),
            " (the gate verifies it)",
        ),
        Text("    text:"),
        # Indented as a block, so every line of a multi-line order stays under its stop.
        Padding(marked_text(order.text, order.injected, _read(order)), (0, 0, 0, 6), expand=False),
        *(
            Text.assemble("    ", ("cut as injection:", "bold red"), " ", segment)
            for segment in order.injected
        ),
        Text(f"    flags: {', '.join(order.flags) or 'none'}"),
        Text(f"    confidence: {_confidence(order.confidence)}"),
        *(
            Text(f"    {field} from {said}{chars(order.spans.get(field, ()))}")
            for field, said in order.sources.items()
        ),
    ]


def _read(order: OrderParsed) -> tuple[tuple[int, int], ...]:
    return tuple(span for spans in order.spans.values() for span in spans)


def route_rows(route: Route) -> list[tuple[str, ...]]:
    """The route's table in driving order: its stops, the reloads between its trips and the
    crew's breaks, so the approver sees when a truck goes back to load and when it rests."""
    timed: list[tuple[datetime, int, tuple[str, ...]]] = []
    for k, stop in enumerate(route.stops, start=1):
        lines = ", ".join(f"{line.quantity} {line.unit} {line.sku}" for line in stop.lines)
        row = (stop.location, stop.order_id, lines, stop.priority.value, f"{stop.load_kg:.0f}")
        timed.append((stop.arrival, 2 * k, row))
    for reload in route.reloads:
        loads = f"loads {reload.load_kg:.0f} kg, {reload.load_m3:.1f} m³"
        until = f"reload until {reload.departure:%H:%MZ}"
        # After its stop, whatever the clock says: the rows keep the trips' order.
        timed.append(
            (reload.arrival, 2 * reload.after_stops + 1, (reload.depot, until, loads, "", ""))
        )
    for rest in route.breaks:
        timed.append((rest.start, 0, ("", f"break until {rest.end:%H:%MZ}", "", "", "")))
    ordered = sorted(timed, key=lambda t: (t[0], t[1]))
    return [(at.strftime("%d %H:%MZ"), *row) for at, _, row in ordered]


def show_plan(view: PlanView, orders: Mapping[str, OrderParsed]) -> None:
    """Routes with stops, ETAs, loads and the words behind each stop; unserved orders with
    reasons; approvals."""
    plan = view.plan
    # Everything read from Kafka is escaped: a plan, a decision or a reason is data, and markup
    # in it must neither style a forged "released" line nor crash the command.
    console.print(
        f"[bold]{escape(plan.plan_id)}[/]  status [bold]{view.status}[/]  "
        f"hash {plan.plan_hash[:16]}…  scenario {escape(plan.scenario)}"
    )
    console.print(
        f"{len(plan.order_ids)} orders, {plan.distance_km:.1f} km, solver "
        f"{escape(plan.solver.status)} in {plan.solver.wall_seconds:.1f}s; the gate's risk: "
        f"{escape(', '.join(gate_risk(plan)) or 'none')}; needs {needed(plan)} approval(s)"
    )
    if plan.supersedes is not None:
        console.print(f"supersedes {escape(plan.supersedes)} (changes below)")
    if view.superseded_by is not None:
        console.print(f"[yellow]superseded by {escape(view.superseded_by)}[/]: decide on that plan")
    for route in plan.routes:
        table = Table(
            title=escape(
                f"{route.vehicle_id} from {route.depot}: {route.distance_km:.1f} km, "
                f"{route.load_kg:.0f} kg, {route.load_m3:.1f} m³"
            ),
            header_style="bold",
        )
        for column in ("ETA", "location", "order", "lines", "priority", "kg"):
            table.add_column(column)
        for row in route_rows(route):
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)
        # An approver signs for what was asked, not only for what the parser made of it.
        for k, stop in enumerate(route.stops, start=1):
            where = f"stop {k} at {stop.location}: "
            for line in order_lines(stop.order_id, orders.get(stop.order_id), where):
                console.print(line)
    for unserved in plan.unserved:
        console.print(
            f"[yellow]unserved[/] {escape(unserved.order_id)} ({unserved.priority.value}): "
            f"{escape(unserved.reason)}"
        )
    for decision in view.decisions:
        said = (
            f"{decision.decision.value} by {decision.operator_id} ({decision.role}) at "
            f"{decision.decided_at:%d %H:%MZ}: {decision.reason}"
        )
        console.print(f"decision as sent (the gate verifies it): {escape(said)}")
    if view.release is not None:
        who = escape(", ".join(f"{a.operator_id} [{a.key_id}]" for a in view.release.approvals))
        console.print(
            f"[green]released[/] at {view.release.occurred_at:%d %H:%MZ}, approved by {who}"
        )
