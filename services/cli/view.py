"""Rich rendering of plans for humans."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from rich.markup import escape
from rich.table import Table

from schemas.envelope import utcnow
from schemas.plans import PlanProposed
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


def show_plan(view: PlanView) -> None:
    """Routes with stops, ETAs and loads; unserved orders with reasons; approvals."""
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
        for stop in route.stops:
            lines = ", ".join(f"{line.quantity} {line.unit} {line.sku}" for line in stop.lines)
            table.add_row(
                stop.arrival.strftime("%d %H:%MZ"),
                escape(stop.location),
                escape(stop.order_id),
                escape(lines),
                stop.priority.value,
                f"{stop.load_kg:.0f}",
            )
        console.print(table)
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
