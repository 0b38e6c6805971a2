"""diff_plans and render: what changed between two plans, in operational terms."""

from __future__ import annotations

from datetime import timedelta

from schemas.orders import DemandLine, Priority
from schemas.plans import PlanProposed, Route, SolverStats, Stop, Unserved
from services.planner.diff import Added, Dropped, Moved, diff_plans, render
from tests.planner.helpers import NOW

# (order id, minutes after NOW, kg) per vehicle
Stops = dict[str, list[tuple[str, int, float]]]


def _plan(
    plan_id: str, stops: Stops, unserved: dict[str, str] | None = None, extra: tuple[str, ...] = ()
) -> PlanProposed:
    unserved = unserved or {}
    routes = tuple(
        Route(
            vehicle_id=vid,
            depot="DEPOT-A",
            start=NOW,
            end=NOW + timedelta(hours=8),
            stops=tuple(
                Stop(
                    order_id=oid,
                    location="FOB-1",
                    arrival=NOW + timedelta(minutes=minute),
                    departure=NOW + timedelta(minutes=minute + 20),
                    lines=(DemandLine(sku="TARP", quantity=1, unit="each"),),
                    priority=Priority.ROUTINE,
                    load_kg=kg,
                )
                for oid, minute, kg in visits
            ),
            distance_km=10.0 * len(visits),
            load_kg=sum(kg for _, _, kg in visits),
            load_m3=0.0,
        )
        for vid, visits in stops.items()
    )
    orders = {s.order_id for r in routes for s in r.stops} | set(unserved) | set(extra)
    return PlanProposed(
        message_id=f"msg-{plan_id}",
        occurred_at=NOW,
        plan_id=plan_id,
        plan_hash="0" * 64,
        order_ids=tuple(sorted(orders)),
        routes=routes,
        unserved=tuple(
            Unserved(order_id=oid, priority=Priority.ROUTINE, reason=reason)
            for oid, reason in unserved.items()
        ),
        distance_km=sum(r.distance_km for r in routes),
        solver=SolverStats(status="ok", objective=0, wall_seconds=0.1, time_limit_seconds=1),
        scenario="tiny @ test",
        expires_at=NOW + timedelta(hours=6),
    )


OLD = _plan(
    "plan-old",
    {"TRUCK-1": [("a", 60, 100), ("b", 90, 200)], "REEF-1": [("c", 45, 10)]},
    unserved={"d": "fleet time or capacity exhausted: capacity binds"},
)
NEW = _plan(
    "plan-new",
    {"TRUCK-1": [("b", 92, 200), ("d", 130, 500)], "FUEL-1": [("c", 70, 10), ("e", 100, 30)]},
    unserved={"a": "delivery window unreachable from every capable depot within shifts"},
)


def test_identical_plans_have_no_changes() -> None:
    """A plan against itself: nothing operational changed."""
    diff = diff_plans(OLD, OLD)
    assert diff.empty
    assert render(diff)[-1] == "no operational changes"


def test_added_and_dropped_orders() -> None:
    """d was unserved and is now carried, e is new; a is now unserved with the new reason."""
    diff = diff_plans(OLD, NEW)
    assert diff.added == (
        Added("d", "TRUCK-1", NOW + timedelta(minutes=130), "unserved"),
        Added("e", "FUEL-1", NOW + timedelta(minutes=100), "new order"),
    )
    assert diff.dropped == (
        Dropped(
            "a", "TRUCK-1", "delivery window unreachable from every capable depot within shifts"
        ),
    )


def test_order_absent_from_the_new_plan_is_dropped_without_reason() -> None:
    """An order the new plan does not mention at all is dropped as absent."""
    diff = diff_plans(OLD, _plan("plan-new", {"TRUCK-1": [("a", 60, 100), ("b", 90, 200)]}))
    assert diff.dropped == (Dropped("c", "REEF-1", None),)
    assert "- dropped c (was on REEF-1), absent from the new plan" in render(diff)


def test_moved_stops_and_eta_changes_of_five_minutes_or_more() -> None:
    """c moves from the reefer to the fuel truck 25 min later; b's 2-minute shift is noise."""
    diff = diff_plans(OLD, NEW)
    assert diff.moved == (Moved("c", "REEF-1", "FUEL-1"),)
    assert [(e.order_id, e.minutes) for e in diff.eta] == [("c", 25)]


def test_load_changes_per_vehicle() -> None:
    """Loads are compared per vehicle, including vehicles only one plan uses."""
    diff = diff_plans(OLD, NEW)
    assert [(c.vehicle_id, c.old_kg, c.new_kg, c.delta_kg) for c in diff.load] == [
        ("FUEL-1", 0.0, 40.0, 40.0),
        ("REEF-1", 10.0, 0.0, -10.0),
        ("TRUCK-1", 300.0, 700.0, 400.0),
    ]


def test_render_lines() -> None:
    """One readable line per change, headed by the distance change."""
    assert render(diff_plans(OLD, NEW)) == [
        "plan-old → plan-new: 30.0 → 40.0 km (+10.0 km)",
        "+ added d on TRUCK-1 at 23 07:10Z (was unserved)",
        "+ added e on FUEL-1 at 23 06:40Z (was new order)",
        "- dropped a (was on TRUCK-1), now unserved: delivery window unreachable from every "
        "capable depot within shifts",
        "~ moved c: REEF-1 → FUEL-1",
        "~ ETA c on FUEL-1: 23 05:45Z → 23 06:10Z (+25 min)",
        "~ load FUEL-1: 0 → 40 kg (+40 kg)",
        "~ load REEF-1: 10 → 0 kg (-10 kg)",
        "~ load TRUCK-1: 300 → 700 kg (+400 kg)",
    ]
