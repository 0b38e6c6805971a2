"""Rich rendering of plans for humans."""

from __future__ import annotations

from datetime import datetime

from rich.markup import escape
from rich.table import Table

from schemas.envelope import utcnow
from services.cli.context import console
from services.cli.ledger import PlanView
from services.gate.rules import approvals_required


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
            plan.plan_id,
            view.status,
            _age(plan.occurred_at),
            str(len(plan.order_ids)),
            str(len(plan.routes)),
            f"{plan.distance_km:.0f}",
            str(len(plan.unserved)),
            ", ".join(plan.risk) or "-",
            f"{len(view.approvers)}/{approvals_required(plan)}",
            plan.expires_at.strftime("%d %H:%MZ"),
        )
    return table


def show_plan(view: PlanView) -> None:
    """Routes with stops, ETAs and loads; unserved orders with reasons; approvals."""
    plan = view.plan
    console.print(
        f"[bold]{plan.plan_id}[/]  status [bold]{view.status}[/]  "
        f"hash {plan.plan_hash[:16]}…  scenario {plan.scenario}"
    )
    console.print(
        f"{len(plan.order_ids)} orders, {plan.distance_km:.1f} km, solver "
        f"{plan.solver.status} in {plan.solver.wall_seconds:.1f}s; risk: "
        f"{', '.join(plan.risk) or 'none'}; needs {approvals_required(plan)} approval(s)"
    )
    if plan.supersedes is not None:
        console.print(f"supersedes {plan.supersedes} (changes below)")
    if view.superseded_by is not None:
        console.print(f"[yellow]superseded by {view.superseded_by}[/]: decide on that plan")
    for route in plan.routes:
        table = Table(
            title=f"{route.vehicle_id} from {route.depot}: {route.distance_km:.1f} km, "
            f"{route.load_kg:.0f} kg, {route.load_m3:.1f} m³",
            header_style="bold",
        )
        for column in ("ETA", "location", "order", "lines", "priority", "kg"):
            table.add_column(column)
        for stop in route.stops:
            lines = ", ".join(f"{line.quantity} {line.unit} {line.sku}" for line in stop.lines)
            table.add_row(
                stop.arrival.strftime("%d %H:%MZ"),
                stop.location,
                stop.order_id,
                lines,
                stop.priority.value,
                f"{stop.load_kg:.0f}",
            )
        console.print(table)
    for unserved in plan.unserved:
        console.print(
            f"[yellow]unserved[/] {unserved.order_id} ({unserved.priority.value}): "
            f"{unserved.reason}"
        )
    for decision in view.decisions:
        console.print(
            f"decision: {decision.decision.value} by {decision.operator_id} "
            f"({decision.role}) at {decision.decided_at:%d %H:%MZ}: {decision.reason}"
        )
    if view.release is not None:
        who = escape(", ".join(f"{a.operator_id} [{a.key_id}]" for a in view.release.approvals))
        console.print(
            f"[green]released[/] at {view.release.occurred_at:%d %H:%MZ}, approved by {who}"
        )
