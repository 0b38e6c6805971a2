"""What changed between two plans, in operational terms; pure, no solver and no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.plans import PlanProposed

# ETA shifts smaller than this are noise to a crew; loads below this are rounding.
ETA_THRESHOLD_MIN = 5
LOAD_THRESHOLD_KG = 0.5


@dataclass(frozen=True)
class Added:
    """An order the new plan serves that the old one did not."""

    order_id: str
    vehicle_id: str
    eta: datetime
    was: str  # "new order" or "unserved"


@dataclass(frozen=True)
class Dropped:
    """An order the old plan served that the new one does not: now unserved, or absent."""

    order_id: str
    vehicle_id: str
    reason: str | None  # the new plan's unserved reason; None when the order is absent


@dataclass(frozen=True)
class Moved:
    """A stop served in both plans by different vehicles."""

    order_id: str
    from_vehicle: str
    to_vehicle: str


@dataclass(frozen=True)
class EtaChange:
    """A stop whose arrival moved by at least ETA_THRESHOLD_MIN minutes."""

    order_id: str
    vehicle_id: str
    old: datetime
    new: datetime

    @property
    def minutes(self) -> int:
        """Signed change in whole minutes; positive is later."""
        return round((self.new - self.old).total_seconds() / 60)


@dataclass(frozen=True)
class LoadChange:
    """A vehicle whose total load changed."""

    vehicle_id: str
    old_kg: float
    new_kg: float

    @property
    def delta_kg(self) -> float:
        """Signed change in kg."""
        return self.new_kg - self.old_kg


@dataclass(frozen=True)
class PlanDiff:
    """Everything a crew or reviewer needs to know when a plan supersedes another."""

    old_plan_id: str
    new_plan_id: str
    old_distance_km: float
    new_distance_km: float
    added: tuple[Added, ...]
    dropped: tuple[Dropped, ...]
    moved: tuple[Moved, ...]
    eta: tuple[EtaChange, ...]
    load: tuple[LoadChange, ...]

    @property
    def empty(self) -> bool:
        """Whether nothing operational changed."""
        return not (self.added or self.dropped or self.moved or self.eta or self.load)


@dataclass(frozen=True)
class _Served:
    vehicle_id: str
    arrival: datetime


def _served(plan: PlanProposed) -> dict[str, _Served]:
    return {
        stop.order_id: _Served(route.vehicle_id, stop.arrival)
        for route in plan.routes
        for stop in route.stops
    }


def _loads(plan: PlanProposed) -> dict[str, float]:
    loads: dict[str, float] = {}
    for route in plan.routes:  # a vehicle with several shifts has several routes
        loads[route.vehicle_id] = loads.get(route.vehicle_id, 0.0) + route.load_kg
    return loads


def diff_plans(old: PlanProposed, new: PlanProposed) -> PlanDiff:
    """The operational changes from old to new."""
    before, after = _served(old), _served(new)
    old_orders, unserved = set(old.order_ids), {u.order_id: u.reason for u in new.unserved}
    added = tuple(
        Added(oid, s.vehicle_id, s.arrival, "unserved" if oid in old_orders else "new order")
        for oid, s in sorted(after.items())
        if oid not in before
    )
    dropped = tuple(
        Dropped(oid, s.vehicle_id, unserved.get(oid))
        for oid, s in sorted(before.items())
        if oid not in after
    )
    both = sorted(set(before) & set(after))
    moved = tuple(
        Moved(oid, before[oid].vehicle_id, after[oid].vehicle_id)
        for oid in both
        if before[oid].vehicle_id != after[oid].vehicle_id
    )
    etas = (EtaChange(o, after[o].vehicle_id, before[o].arrival, after[o].arrival) for o in both)
    eta = tuple(e for e in etas if abs(e.minutes) >= ETA_THRESHOLD_MIN)
    old_load, new_load = _loads(old), _loads(new)
    loads = (
        LoadChange(vid, old_load.get(vid, 0.0), new_load.get(vid, 0.0))
        for vid in sorted(set(old_load) | set(new_load))
    )
    load = tuple(c for c in loads if abs(c.delta_kg) >= LOAD_THRESHOLD_KG)
    return PlanDiff(
        old_plan_id=old.plan_id,
        new_plan_id=new.plan_id,
        old_distance_km=old.distance_km,
        new_distance_km=new.distance_km,
        added=added,
        dropped=dropped,
        moved=moved,
        eta=eta,
        load=load,
    )


def _at(when: datetime) -> str:
    return f"{when:%d %H:%MZ}"


def render(diff: PlanDiff) -> list[str]:
    """One line per change, grouped: added, dropped, moved, ETA, load."""
    delta = diff.new_distance_km - diff.old_distance_km
    lines = [
        f"{diff.old_plan_id} → {diff.new_plan_id}: {diff.old_distance_km:.1f} → "
        f"{diff.new_distance_km:.1f} km ({delta:+.1f} km)"
    ]
    for a in diff.added:
        lines.append(f"+ added {a.order_id} on {a.vehicle_id} at {_at(a.eta)} (was {a.was})")
    for d in diff.dropped:
        now = f"now unserved: {d.reason}" if d.reason is not None else "absent from the new plan"
        lines.append(f"- dropped {d.order_id} (was on {d.vehicle_id}), {now}")
    for m in diff.moved:
        lines.append(f"~ moved {m.order_id}: {m.from_vehicle} → {m.to_vehicle}")
    for e in diff.eta:
        lines.append(
            f"~ ETA {e.order_id} on {e.vehicle_id}: {_at(e.old)} → {_at(e.new)} "
            f"({e.minutes:+d} min)"
        )
    for c in diff.load:
        lines.append(
            f"~ load {c.vehicle_id}: {c.old_kg:.0f} → {c.new_kg:.0f} kg ({c.delta_kg:+.0f} kg)"
        )
    if diff.empty:
        lines.append("no operational changes")
    return lines
