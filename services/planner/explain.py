"""Why an order cannot be served: the per-order screen and its counterfactual reasons.

Each reason names the one relaxation that would serve the order (a skill, a split load, a later
deliver_by), found by re-running the failed check with that constraint relaxed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # problem.py calls the screen; only its types are needed here
    from services.planner.problem import Demand, Duty


def _reachable(
    d: Demand, duty: Duty, node: int, service: int, dist: Sequence[Sequence[int]]
) -> bool:
    """Whether the duty could serve this order alone, driving straight there and back."""
    arrive = _earliest(d, duty, node, service, dist)
    return arrive is not None and arrive <= d.window[1]


def _earliest(
    d: Demand, duty: Duty, node: int, service: int, dist: Sequence[Sequence[int]]
) -> int | None:
    """Earliest arrival driving straight there and back within the shift, ignoring deliver_by."""
    out = duty.drive_min(dist[duty.node][node])
    back = duty.drive_min(dist[node][duty.node])
    arrive = max(duty.start_min + out, d.window[0])
    return arrive if arrive + service + back <= duty.end_min else None


def _sizes_fit(d: Demand, duty: Duty) -> bool:
    return d.weight_kg <= duty.capacity_kg and d.volume_l <= duty.capacity_l


def screen(
    d: Demand,
    node: int,
    service: int,
    duties: Sequence[Duty],
    dist: Sequence[Sequence[int]],
    epoch: datetime,
) -> tuple[tuple[int, ...], str | None]:
    """Duties that could serve the order, or the first counterfactual check that rules all out.

    Each reason also names the relaxation that would serve the order, found by re-running the
    check with that one constraint relaxed.
    """
    if not duties:
        return (), "no vehicle has a shift within the planning horizon"
    skilled = [i for i, duty in enumerate(duties) if d.skills <= duty.skills]
    if not skilled:
        return (), _skills_reason(d, node, service, duties, dist)
    fits = [i for i in skilled if _sizes_fit(d, duties[i])]
    if not fits:
        return (), _size_reason(d, node, service, [duties[i] for i in skilled], dist)
    drivable = [i for i in fits if _round_trip_min(duties[i], node, dist) <= _drive_cap(duties[i])]
    if not drivable:
        return (), _drive_reason(node, [duties[i] for i in fits], dist)
    fits = drivable
    capable = [duties[i] for i in fits]
    if d.window[0] > d.window[1]:
        closed = "delivery window is already closed or opens after the planning horizon"
        return (), closed + _window_relaxation(d, node, service, capable, dist, epoch)
    reach = [i for i in fits if _reachable(d, duties[i], node, service, dist)]
    if not reach:
        late = "delivery window unreachable from every capable depot within shifts"
        return (), late + _window_relaxation(d, node, service, capable, dist, epoch)
    return tuple(reach), None


def _round_trip_min(duty: Duty, node: int, dist: Sequence[Sequence[int]]) -> int:
    return duty.drive_min(dist[duty.node][node]) + duty.drive_min(dist[node][duty.node])


def _drive_cap(duty: Duty) -> float:
    return math.inf if duty.max_drive_min is None else duty.max_drive_min


def _drive_reason(node: int, duties: Sequence[Duty], dist: Sequence[Sequence[int]]) -> str:
    best = min(duties, key=lambda duty: _round_trip_min(duty, node, dist) - _drive_cap(duty))
    return (
        f"farther than any capable vehicle may drive in a shift: the round trip takes "
        f"{vehicle_label(best)} {_round_trip_min(best, node, dist)} min of driving, "
        f"{best.max_drive_min} min allowed; a longer driving limit for its type would serve it"
    )


def vehicle_label(duty: Duty) -> str:
    """A vehicle as a reader knows it: id and, when known, its type."""
    return f"{duty.vehicle_id} ({duty.vehicle_type})" if duty.vehicle_type else duty.vehicle_id


def _join(words: Iterable[str], last: str = "or") -> str:
    items = list(dict.fromkeys(words))
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def _skills_reason(
    d: Demand, node: int, service: int, duties: Sequence[Duty], dist: Sequence[Sequence[int]]
) -> str:
    text = f"no vehicle has the required skills ({', '.join(sorted(d.skills))})"
    held = frozenset().union(*(duty.skills for duty in duties))
    if absent := sorted(d.skills - held):
        text += f"; no vehicle in the fleet has {_join(absent)}"
    # Counterfactual: grant each vehicle the skills it lacks; who could then serve it alone?
    able = [
        duty for duty in duties if _sizes_fit(d, duty) and _reachable(d, duty, node, service, dist)
    ]
    if not able:
        return text + "; even with those skills no vehicle could carry it in time"
    fewest = min(len(d.skills - duty.skills) for duty in able)
    lacking = min(
        sorted(d.skills - duty.skills) for duty in able if len(d.skills - duty.skills) == fewest
    )
    who = [vehicle_label(duty) for duty in able if sorted(d.skills - duty.skills) == lacking]
    return f"{text}; it would be served if {_join(who)} also had {_join(lacking, 'and')}"


def _loads(d: Demand, duty: Duty) -> float:
    """How many loads of at most the duty's capacity the order splits into (inf if none)."""
    parts = []
    for need, cap in ((d.weight_kg, duty.capacity_kg), (d.volume_l, duty.capacity_l)):
        parts.append(1 if need <= 0 else math.ceil(need / cap) if cap > 0 else math.inf)
    return max(parts)


def _size_reason(
    d: Demand, node: int, service: int, skilled: Sequence[Duty], dist: Sequence[Sequence[int]]
) -> str:
    text = (
        f"heavier or bulkier than any capable vehicle "
        f"({d.weight_kg} kg, {d.volume_l / 1000:.2f} m3)"
    )
    # Counterfactual: a load within capacity; only a vehicle that reaches it in time counts.
    timely = [duty for duty in skilled if _reachable(d, duty, node, service, dist)]
    best = min(
        timely or skilled, key=lambda duty: (_loads(d, duty), -duty.capacity_kg, -duty.capacity_l)
    )
    k = _loads(d, best)
    if math.isinf(k):
        return text + "; no capable vehicle carries any volume"
    split = (
        f"{text}; the largest capable vehicle, {vehicle_label(best)}, takes "
        f"{best.capacity_kg} kg and {best.capacity_l / 1000:.2f} m3, so it would fit "
        f"split into {int(k)} loads of at most that"
    )
    return split if timely else split + ", though no capable vehicle reaches it in its window"


def _window_relaxation(
    d: Demand,
    node: int,
    service: int,
    capable: Sequence[Duty],
    dist: Sequence[Sequence[int]],
    epoch: datetime,
) -> str:
    # Counterfactual: drop deliver_by and find the earliest arrival any capable shift achieves.
    options = [
        (arrive, duty)
        for duty in capable
        if (arrive := _earliest(d, duty, node, service, dist)) is not None
    ]
    if options:
        arrive, duty = min(options, key=lambda o: (o[0], o[1].vehicle_id))
        at = f"{epoch + timedelta(minutes=arrive):%Y-%m-%d %H:%MZ}"
        # An order allowed to arrive late needs deliver_by only that much before the arrival.
        due = f"{epoch + timedelta(minutes=arrive - d.late_min):%Y-%m-%d %H:%MZ}"
        return (
            f"; the earliest arrival is {at} from {duty.depot} by {vehicle_label(duty)}, "
            f"so extend deliver_by to at least {due}"
        )
    nearest = min(
        capable,
        key=lambda duty: (
            duty.drive_min(dist[duty.node][node]) + duty.drive_min(dist[node][duty.node])
        ),
    )
    trip = (
        nearest.drive_min(dist[nearest.node][node])
        + service
        + nearest.drive_min(dist[node][nearest.node])
    )
    longest = max(duty.end_min - duty.start_min for duty in capable)
    if trip <= longest:
        return "; no capable shift from its not_before on is long enough to reach it and return"
    return (
        f"; even without deliver_by no capable shift reaches it and returns: the round trip "
        f"from the nearest capable depot, {nearest.depot}, takes {trip} min and the longest "
        f"remaining shift is {longest} min"
    )
