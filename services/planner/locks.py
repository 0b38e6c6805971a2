"""Locked stops: a released plan's stops that a re-plan keeps on their vehicle, in order (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from schemas.plans import PlanProposed

if TYPE_CHECKING:  # types only: problem.py builds on this module
    from services.planner.problem import Duty, Job


@dataclass(frozen=True)
class Lock:
    """A stop of a released plan that a re-plan must keep: same vehicle, same relative order.

    position is the stop's rank among that vehicle's locked stops (0-based). arrival, when
    known, picks which of the vehicle's shifts keeps the stop; it takes no part in equality.
    """

    order_id: str
    vehicle_id: str
    position: int
    arrival: datetime | None = field(default=None, compare=False)


class LocksInfeasible(RuntimeError):
    """The locked stops of a released plan can no longer be kept; plan the new orders alone."""


@dataclass(frozen=True)
class LockedRun:
    """Jobs (indices) that one duty must serve, in this order; other stops may come between."""

    duty: int
    jobs: tuple[int, ...]


def locks_from(plan: PlanProposed) -> tuple[Lock, ...]:
    """Every stop of every route of a released plan, ranked per vehicle in time order."""
    rank: dict[str, int] = {}
    locks = []
    for route in sorted(plan.routes, key=lambda r: (r.vehicle_id, r.start)):
        for stop in route.stops:
            position = rank.get(route.vehicle_id, 0)
            rank[route.vehicle_id] = position + 1
            locks.append(Lock(stop.order_id, route.vehicle_id, position, stop.arrival))
    return tuple(locks)


def bind_locks(
    locks: Sequence[Lock],
    jobs: Sequence[Job],
    duties: Sequence[Duty],
    invalid: dict[str, str],
    epoch: datetime,
) -> tuple[LockedRun, ...]:
    """Bind each locked job to one duty of its vehicle, keeping the locked order across shifts."""
    index = {job.order_id: k for k, job in enumerate(jobs)}
    for lock in locks:
        if lock.order_id in invalid:
            raise LocksInfeasible(
                f"locked order {lock.order_id} is invalid now: {invalid[lock.order_id]}"
            )
        if lock.order_id not in index:
            raise ValueError(
                f"lock on order {lock.order_id}, which is not in the batch; pass every locked order"
            )
    if len({lock.order_id for lock in locks}) != len(locks):
        raise ValueError("an order is locked more than once; pass locks_from(plan) as it is")
    runs: dict[int, list[int]] = {}
    by_vehicle: dict[str, list[Lock]] = {}
    for lock in sorted(locks, key=lambda lk: (lk.vehicle_id, lk.position)):
        by_vehicle.setdefault(lock.vehicle_id, []).append(lock)
    for vehicle_id, mine in by_vehicle.items():
        own = [i for i, duty in enumerate(duties) if duty.vehicle_id == vehicle_id]
        if not own:
            raise LocksInfeasible(
                f"{vehicle_id} holds locked stops but has no shift within the horizon "
                f"or is no longer in the fleet"
            )
        earliest = 0  # a later locked stop never moves to an earlier shift than the one before
        for lock in mine:
            k = index[lock.order_id]
            duty = _lock_duty(lock, jobs[k], [i for i in own if i >= earliest], duties, epoch)
            runs.setdefault(duty, []).append(k)
            earliest = duty
    return tuple(LockedRun(duty, tuple(ks)) for duty, ks in sorted(runs.items()))


def _lock_duty(
    lock: Lock, job: Job, own: Sequence[int], duties: Sequence[Duty], epoch: datetime
) -> int:
    """The shift whose window holds the released arrival, else the first that can serve it."""
    able = [i for i in own if i in job.allowed]
    if not able:
        why = job.reason or "none of its shifts reaches it within its window any more"
        raise LocksInfeasible(
            f"locked order {lock.order_id} can no longer be served by {lock.vehicle_id}: {why}"
        )
    if lock.arrival is not None:
        at = math.floor((lock.arrival - epoch).total_seconds() / 60 + 1e-9)
        holding = [i for i in able if duties[i].start_min <= at <= duties[i].end_min]
        if holding:
            return holding[0]
    return able[0]
