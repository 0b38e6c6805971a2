"""`qm fleet …`: tell the planner a vehicle is down, in maintenance or available again."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from schemas.envelope import content_id, utcnow
from schemas.fleet import VehicleReported, VehicleStatus
from schemas.topics import Topic
from services.cli.context import console, fail, print_json, run, settings
from services.cli.publishing import send_many
from services.cli.theater import latest, point, signed, when
from services.common.kafka import KafkaUnavailable
from services.common.scenario import ScenarioError, load_scenario

app = typer.Typer(
    help="Vehicle state the planner plans with (fleet.reported.v1).", no_args_is_help=True
)

Operator = Annotated[
    str, typer.Option("--as", envvar="QM_OPERATOR", help="Who reports (signs with their key).")
]
Reason = Annotated[str, typer.Option(help="Why, in a few words (shown to approvers).")]
At = Annotated[
    str | None, typer.Option("--at", help="Where it is now: LAT,LON (it drives back to its depot).")
]


def _fleet_ids() -> list[str]:
    try:
        return [v.id for v in load_scenario(settings().scenario).scenario.fleet]
    except ScenarioError as err:
        fail(str(err))


def _report(
    vehicle_id: str,
    status: VehicleStatus,
    operator: str,
    reason: str,
    from_: str | None,
    at: str | None,
) -> None:
    fleet = _fleet_ids()
    if vehicle_id not in fleet:
        fail(f"unknown vehicle {vehicle_id!r}; the scenario's fleet is {', '.join(fleet)}")
    now = utcnow()
    position = point(at, "--at") if at else None
    report = VehicleReported(
        message_id=content_id("msg", "vehicle", vehicle_id, status.value, now.isoformat()),
        occurred_at=now,
        vehicle_id=vehicle_id,
        status=status,
        reported_at=now,
        position=position,
        position_at=now if position else None,
        available_from=when(from_, "--from" if status is VehicleStatus.AVAILABLE else "--until"),
        operator_id=operator,
        role="approver",
        reason=reason,
    )
    report = signed(report, operator)
    try:
        run(send_many(settings(), Topic.FLEET_REPORTED, [(report, vehicle_id)]))
    except KafkaUnavailable as err:
        fail(str(err))
    until = f" until {report.available_from:%F %H:%MZ}" if report.available_from else ""
    console.print(
        f"reported {vehicle_id} {status.value}{until}, signed by {operator}: "
        f"{escape(reason or 'no reason given')}"
    )


@app.command("down")
def down(
    vehicle_id: Annotated[str, typer.Argument(help="Vehicle id, as in the scenario.")],
    operator: Operator,
    reason: Reason = "",
    until: Annotated[
        str | None, typer.Option(help="When it is expected back (ISO time or +4h); none: unknown.")
    ] = None,
    at: At = None,
) -> None:
    """A vehicle broke down: plans leave it out; its released stops move in a revision."""
    _report(vehicle_id, VehicleStatus.DOWN, operator, reason, until, at)


@app.command("maintenance")
def maintenance(
    vehicle_id: Annotated[str, typer.Argument(help="Vehicle id, as in the scenario.")],
    operator: Operator,
    reason: Reason = "",
    until: Annotated[
        str | None, typer.Option(help="When maintenance ends (ISO time or +4h); none: unknown.")
    ] = None,
) -> None:
    """A vehicle is held for maintenance: left out of plans, as one that is down."""
    _report(vehicle_id, VehicleStatus.MAINTENANCE, operator, reason, until, None)


@app.command("available")
def available(
    vehicle_id: Annotated[str, typer.Argument(help="Vehicle id, as in the scenario.")],
    operator: Operator,
    reason: Reason = "",
    from_: Annotated[
        str | None, typer.Option("--from", help="Available from (ISO time or +2h); none: now.")
    ] = None,
    at: At = None,
) -> None:
    """A vehicle can be planned again (from a time, or once back from where it is)."""
    _report(vehicle_id, VehicleStatus.AVAILABLE, operator, reason, from_, at)


@app.command("list")
def list_fleet(
    json_out: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Every vehicle of the scenario with its latest report."""
    reports = latest(Topic.FLEET_REPORTED, VehicleReported, "vehicle_id")
    rows = []
    for vehicle_id in _fleet_ids():
        r = reports.get(vehicle_id)
        rows.append(
            {
                "vehicle_id": vehicle_id,
                "status": r.status.value if r else "available",
                "available_from": r.available_from.isoformat() if r and r.available_from else None,
                "position": r.position.model_dump() if r and r.position else None,
                "reason": r.reason if r else "",
                "reported_by": r.operator_id if r else None,
                "reported_at": r.reported_at.isoformat() if r else None,
            }
        )
    if json_out:
        print_json(rows)
        return
    for vehicle_id in _fleet_ids():
        r = reports.get(vehicle_id)
        if r is None:
            console.print(f"{vehicle_id:<12} available    (no report)")
            continue
        frm = f" from {r.available_from:%F %H:%MZ}" if r.available_from else ""
        at = f" at {r.position.lat:.4f},{r.position.lon:.4f}" if r.position else ""
        console.print(
            f"{vehicle_id:<12} {r.status.value:<12}{frm}{at} — "
            + escape(
                f"{r.reason or 'no reason given'} ({r.operator_id}, {r.reported_at:%F %H:%MZ})"
            )
        )
