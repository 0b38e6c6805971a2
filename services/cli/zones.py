"""`qm zones …`: declare an area closed (a threat, a flooded road, a shut checkpoint), lift it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from schemas.envelope import content_id, utcnow
from schemas.topics import Topic
from schemas.zones import Circle, ZoneDeclared
from services.cli.context import console, fail, print_json, run, settings
from services.cli.ledger import find, load_ledger, load_orders
from services.cli.publishing import send_many
from services.cli.routemap import render
from services.cli.theater import latest, point, signed, when
from services.common.kafka import KafkaUnavailable
from services.common.scenario import load_scenario

app = typer.Typer(help="Closed areas no route may cross (zones.declared.v1).", no_args_is_help=True)

Operator = Annotated[
    str, typer.Option("--as", envvar="QM_OPERATOR", help="Who declares (signs with their key).")
]


def _send(zone: ZoneDeclared) -> None:
    try:
        run(send_many(settings(), Topic.ZONES_DECLARED, [(zone, zone.zone_id)]))
    except KafkaUnavailable as err:
        fail(str(err))


@app.command("declare")
def declare(
    zone_id: Annotated[str, typer.Argument(help="A name for the area, e.g. Z-BRIDGE.")],
    operator: Operator,
    reason: Annotated[str, typer.Option(help="Why it is closed (shown to approvers).")],
    circle: Annotated[
        str | None, typer.Option(help="LAT,LON,RADIUS_M: a round area (metres).")
    ] = None,
    polygon: Annotated[
        str | None, typer.Option(help='Corners "LAT,LON;LAT,LON;LAT,LON;…" in order.')
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Closed from (ISO time or +2h); none: now.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Closed until (ISO time or +12h); none: until lifted.")
    ] = None,
) -> None:
    """Close an area: no new plan crosses it; a released route that does is revised."""
    if (circle is None) == (polygon is None):
        fail("give the area as --circle LAT,LON,RADIUS_M or --polygon 'LAT,LON;…', one of them")
    now = utcnow()
    shape: dict[str, object] = {}
    if circle is not None:
        parts = circle.split(",")
        try:
            center = point(",".join(parts[:2]), "--circle")
            shape["circle"] = Circle(center=center, radius_m=float(parts[2]))
        except (ValueError, IndexError):
            fail(f"--circle {circle!r} is not LAT,LON,RADIUS_M (e.g. 41.25,-71.85,2500)")
    else:
        assert polygon is not None
        shape["polygon"] = tuple(point(p, "--polygon") for p in polygon.split(";") if p.strip())
    try:
        zone = ZoneDeclared.model_validate(
            {
                "message_id": content_id("msg", "zone", zone_id, now.isoformat()),
                "occurred_at": now,
                "zone_id": zone_id,
                "declared_at": now,
                "valid_from": when(from_, "--from"),
                "valid_until": when(until, "--until"),
                "operator_id": operator,
                "role": "approver",
                "reason": reason,
                **shape,
            }
        )
    except ValidationError as err:
        fail(f"cannot declare {zone_id}: {err.errors()[0]['msg']}")
    zone = signed(zone, operator)
    _send(zone)
    window = f" until {zone.valid_until:%F %H:%MZ}" if zone.valid_until else " until lifted"
    console.print(f"declared {zone_id} closed{window}, signed by {operator}: {escape(reason)}")


@app.command("lift")
def lift(
    zone_id: Annotated[str, typer.Argument(help="The area's name.")],
    operator: Operator,
    reason: Annotated[str, typer.Option(help="Why it is open again.")] = "",
) -> None:
    """Open an area again: plans from now on may cross it."""
    now = utcnow()
    zone = ZoneDeclared(
        message_id=content_id("msg", "zone-lifted", zone_id, now.isoformat()),
        occurred_at=now,
        zone_id=zone_id,
        declared_at=now,
        lifted=True,
        operator_id=operator,
        role="approver",
        reason=reason,
    )
    _send(signed(zone, operator))
    console.print(f"lifted {zone_id}, signed by {operator}")


@app.command("list")
def list_zones(
    json_out: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The closed areas (declared and not lifted), with their windows."""
    zones = [
        z for z in latest(Topic.ZONES_DECLARED, ZoneDeclared, "zone_id").values() if not z.lifted
    ]
    now = utcnow()
    if json_out:
        print_json([z.model_dump(mode="json", exclude={"signature"}) for z in zones])
        return
    if not zones:
        console.print("no closed areas")
    for z in sorted(zones, key=lambda z: z.zone_id):
        if z.circle is not None:
            c = z.circle
            shape = f"circle {c.center.lat:.4f},{c.center.lon:.4f} r {c.radius_m:.0f} m"
        else:
            shape = f"polygon of {len(z.polygon or ())} corners"
        state = "closed" if (z.valid_from is None or z.valid_from <= now) else "closes later"
        if z.valid_until is not None and z.valid_until <= now:
            state = "expired"
        frm = f"{z.valid_from:%F %H:%MZ}" if z.valid_from else "declared"
        to = f"{z.valid_until:%F %H:%MZ}" if z.valid_until else "lifted"
        console.print(
            f"{z.zone_id:<12} {state:<12} {shape}, {frm} → {to} — "
            f"{escape(z.reason)} ({z.operator_id})"
        )


@app.command("map")
def map_plan(
    plan_id: Annotated[str, typer.Argument(help="The plan (a unique prefix will do).")],
    out: Annotated[Path, typer.Option(help="Where to write the HTML map.")] = Path("map.html"),
) -> None:
    """The plan's route map with today's closed areas drawn over it (one offline HTML file)."""
    common = settings()
    try:
        ledger = run(load_ledger(common))
        orders = run(load_orders(common))
    except KafkaUnavailable as err:
        fail(str(err))
    view = find(ledger, plan_id)
    if view is None:
        fail(f"no plan {plan_id!r}; `qm plans list` shows the plan ids")
    zones = [
        z for z in latest(Topic.ZONES_DECLARED, ZoneDeclared, "zone_id").values() if not z.lifted
    ]
    scenario = load_scenario(common.scenario).scenario
    out.write_text(render(view.plan, scenario, orders, zones))
    console.print(
        f"route map of {view.plan.plan_id} with {len(zones)} closed area(s) written to {out}"
    )
