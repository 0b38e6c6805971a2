"""`qm plans …`: review plans, and sign approvals or rejections."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from schemas.envelope import content_id, utcnow
from schemas.orders import OrderParsed
from schemas.plans import Decision, PlanDecided
from schemas.topics import Topic
from services.cli.context import console, fail, operator_key, print_json, run, settings
from services.cli.ledger import PlanView, find, load_ledger, load_orders
from services.cli.publishing import send
from services.cli.routemap import render
from services.cli.view import gate_risk, needed, plan_orders_json, plans_table, show_plan
from services.common.kafka import KafkaUnavailable
from services.common.scenario import load_scenario
from services.common.signing import sign_decision
from services.planner.diff import diff_plans
from services.planner.diff import render as render_diff

app = typer.Typer(help="Review proposed plans and sign decisions.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
Operator = Annotated[str, typer.Option("--as", envvar="QM_OPERATOR", help="Your operator id.")]


def _ledger() -> dict[str, PlanView]:
    try:
        return run(load_ledger(settings()))
    except KafkaUnavailable as err:
        fail(str(err))


def _orders() -> dict[str, OrderParsed]:
    try:
        return run(load_orders(settings()))
    except KafkaUnavailable as err:
        fail(str(err))


def _one(plan_id: str, views: dict[str, PlanView] | None = None) -> PlanView:
    view = find(views if views is not None else _ledger(), plan_id)
    if view is None:
        fail(f"no plan {plan_id!r}; `qm plans list` shows the plan ids")
    return view


@app.command("list")
def list_plans(
    json_out: JsonFlag = False,
    status: Annotated[
        str | None, typer.Option(help="pending, released, rejected or superseded")
    ] = None,
) -> None:
    """List plans, newest last."""
    views = sorted(_ledger().values(), key=lambda v: v.plan.occurred_at)
    views = [v for v in views if status is None or v.status == status]
    if json_out:
        print_json(
            [
                {
                    "plan_id": v.plan.plan_id,
                    "status": v.status,
                    "approvers": v.approvers,
                    "orders": list(v.plan.order_ids),
                    "supersedes": v.plan.supersedes,
                    "superseded_by": v.superseded_by,
                }
                for v in views
            ]
        )
        return
    console.print(plans_table(views))


@app.command("show")
def show(
    plan_id: str,
    json_out: JsonFlag = False,
    map_out: Annotated[
        Path | None, typer.Option("--map", help="Also write a route map (self-contained HTML).")
    ] = None,
    diff_from: Annotated[
        str | None,
        typer.Option(
            "--diff",
            help="Show what changed since this earlier plan id (default: the plan it supersedes).",
        ),
    ] = None,
) -> None:
    """Show one plan: routes, stops, ETAs, loads, unserved orders, decisions, what it replaces."""
    ledger = _ledger()
    view = _one(plan_id, ledger)
    changes = None
    if diff_from is not None or view.plan.supersedes is not None:
        older = find(ledger, diff_from or view.plan.supersedes or "")
        if older is None:
            fail(f"no plan {diff_from!r} to diff against; `qm plans list` shows the plan ids")
        changes = render_diff(diff_plans(older.plan, view.plan))
    orders = _orders()
    if map_out is not None:
        scenario = load_scenario(settings().scenario).scenario
        map_out.write_text(render(view.plan, scenario, orders))
        console.print(f"route map written to {map_out}")
    if json_out:
        print_json(
            {
                "status": view.status,
                "plan": view.plan.model_dump(mode="json"),
                "needed": needed(view.plan),
                "gate_risk": list(gate_risk(view.plan)),
                "approvers": view.approvers,
                "superseded_by": view.superseded_by,
                "release": view.release.model_dump(mode="json") if view.release else None,
                "orders": plan_orders_json(view.plan, orders),
                **({"diff": changes} if changes is not None else {}),
            }
        )
        return
    show_plan(view, orders)
    for line in changes or ():
        console.print(line, markup=False, highlight=False)


@app.command("wait")
def wait(
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 300.0,
    status: Annotated[str, typer.Option(help="Status to wait for.")] = "pending",
    plan_id: Annotated[str | None, typer.Option("--plan", help="Wait for this plan.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Wait until a plan reaches a status, then print its id (exit 1 on timeout)."""
    deadline = time.monotonic() + timeout
    with console.status(f"waiting for a {status} plan…"):
        while time.monotonic() < deadline:
            views = sorted(_ledger().values(), key=lambda v: v.plan.occurred_at)
            hits = [
                v
                for v in views
                if v.status == status and (plan_id is None or v.plan.plan_id.startswith(plan_id))
            ]
            if hits:
                print_json({"plan_id": hits[-1].plan.plan_id}) if json_out else typer.echo(
                    hits[-1].plan.plan_id
                )
                return
            time.sleep(1.0)
    fail(f"no {status} plan after {timeout:.0f}s; check the services' logs in .run/logs/")


def _decide(
    plan_id: str,
    decision: Decision,
    operator: str,
    role: str,
    reason: str,
    key: Path | None,
    valid_for_min: int,
) -> None:
    view = _one(plan_id)
    if view.status == "superseded":
        fail(
            f"plan {view.plan.plan_id} was superseded by {view.superseded_by}; review that one: "
            f"qm plans show {view.superseded_by}"
        )
    if view.status != "pending":
        fail(f"plan {view.plan.plan_id} is already {view.status}; nothing to decide")
    private = operator_key(operator, key)
    now = utcnow()
    unsigned = PlanDecided(
        message_id=content_id(
            "dec", view.plan.plan_id, view.plan.plan_hash, operator, decision.value, now.isoformat()
        ),
        occurred_at=now,
        plan_id=view.plan.plan_id,
        plan_hash=view.plan.plan_hash,
        decision=decision,
        operator_id=operator,
        role=role,
        reason=reason,
        decided_at=now,
        expires_at=now + timedelta(minutes=valid_for_min),
    )
    signed = sign_decision(unsigned, private)
    run(send(Topic.PLANS_DECIDED, signed, signed.plan_id))
    console.print(
        f"{decision.value} of {signed.plan_id} signed by {operator} "
        f"({signed.key_id}) and sent; the release gate verifies it"
    )


Reason = Annotated[str, typer.Option(help="Why: recorded and signed with the decision.")]
KeyOpt = Annotated[Path | None, typer.Option(help="Private key file (default .run/keys/ID.pem).")]
Role = Annotated[str, typer.Option(help="Role you act in.")]
Valid = Annotated[int, typer.Option(help="Minutes the decision stays valid.")]


@app.command("approve")
def approve(
    plan_id: str,
    reason: Reason,
    operator: Operator,
    role: Role = "approver",
    key: KeyOpt = None,
    valid_for: Valid = 60,
) -> None:
    """Approve a plan with your signature."""
    _decide(plan_id, Decision.APPROVE, operator, role, reason, key, valid_for)


@app.command("reject")
def reject(
    plan_id: str,
    reason: Reason,
    operator: Operator,
    role: Role = "approver",
    key: KeyOpt = None,
    valid_for: Valid = 60,
) -> None:
    """Reject a plan with your signature and a reason."""
    _decide(plan_id, Decision.REJECT, operator, role, reason, key, valid_for)


@app.command("watch")
def watch(
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 2.0,
    once: Annotated[bool, typer.Option(help="Print the current state once and exit.")] = False,
) -> None:
    """Live view: plans arriving, decisions and releases as they happen (Ctrl-C to stop)."""
    seen: dict[str, tuple[str, int]] = {}
    while True:
        for view in sorted(_ledger().values(), key=lambda v: v.plan.occurred_at):
            state = (view.status, len(view.decisions))
            if seen.get(view.plan.plan_id) != state:
                seen[view.plan.plan_id] = state
                latest = view.decisions[-1] if view.decisions else None
                by = f" — {latest.decision.value} by {latest.operator_id}" if latest else ""
                revises = f", supersedes {view.plan.supersedes}" if view.plan.supersedes else ""
                console.print(
                    f"{utcnow():%H:%M:%SZ} {view.plan.plan_id} {view.status}: "
                    f"{len(view.plan.order_ids)} orders, {view.plan.distance_km:.0f} km"
                    f"{revises}{by}"
                )
        if once:
            return
        time.sleep(interval)
