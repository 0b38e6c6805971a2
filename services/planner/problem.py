"""The routing problem built from a batch of parsed orders and the scenario; no solver here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, get_args

from schemas.orders import OrderParsed, Priority
from services.common.scenario import Break, Scenario, Vehicle, clock_min
from services.common.zones import EARTH_RADIUS_M
from services.planner.explain import screen
from services.planner.locks import Lock, LockedRun, bind_locks

# Integer rounding must never make an overload look feasible: demands round up, capacities down.
_EPS = 1e-9
# Penalties grow geometrically with the batch size; past this the objective could overflow int64.
_MAX_PENALTY = 2**61

# The API of the road matrix service at PlanParams.matrix_url.
MatrixKind = Literal["osrm", "valhalla"]


@dataclass(frozen=True)
class PlanParams:
    """How a batch becomes a problem and a plan."""

    horizon_hours: float = 48.0
    plan_ttl: timedelta = timedelta(hours=6)
    later_shift_cost_m: int = 100_000
    # Soft deliver_by for non-urgent orders: up to max_late_min late, each minute costing as
    # much as this many metres of driving. 0 keeps every deliver_by hard.
    max_late_min: int = 0
    late_penalty_per_min: int = 1_000
    # A road matrix service (of matrix_kind's API); empty uses great circle times the road factor.
    matrix_url: str = ""
    matrix_kind: MatrixKind = "osrm"

    def __post_init__(self) -> None:
        if self.horizon_hours <= 0:
            raise ValueError("horizon_hours must be positive; use e.g. 48")
        if self.plan_ttl <= timedelta(0):
            raise ValueError("plan_ttl must be positive; use e.g. 6 hours")
        if self.max_late_min < 0:
            raise ValueError("max_late_min must be 0 (hard deliver_by) or more; use e.g. 30")
        if self.late_penalty_per_min < 1:
            raise ValueError("late_penalty_per_min must be positive; use e.g. 1000 (metres)")
        if self.matrix_url and not self.matrix_url.startswith(("http://", "https://")):
            raise ValueError("matrix_url must be an http(s) URL of a road matrix service, or empty")
        if self.matrix_kind not in get_args(MatrixKind):
            kinds = " or ".join(get_args(MatrixKind))
            raise ValueError(
                f"matrix_kind must be {kinds} (matrix_url's API), not {self.matrix_kind!r}"
            )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for hashing and for the plan's solver statistics."""
        out: dict[str, Any] = {
            "horizon_hours": self.horizon_hours,
            "plan_ttl_s": self.plan_ttl.total_seconds(),
            "later_shift_cost_m": self.later_shift_cost_m,
        }
        if self.max_late_min:  # only then, so plans with hard windows keep their ids
            out |= {
                "max_late_min": self.max_late_min,
                "late_penalty_per_min": self.late_penalty_per_min,
            }
        if self.matrix_url:  # distances come from elsewhere, so the plan is another one
            out["matrix_url"] = self.matrix_url
            if self.matrix_kind != "osrm":  # only then, so OSRM plans keep their ids
                out["matrix_kind"] = self.matrix_kind
        return out


def late_allowance_min(order: OrderParsed, params: PlanParams) -> int:
    """Minutes an order may arrive after deliver_by: none for urgent orders or without one."""
    if order.deliver_by is None or order.priority is Priority.URGENT:
        return 0
    return params.max_late_min


class MatrixProvider(Protocol):
    """Road distances in metres between points given as (lat, lon)."""

    def matrix(self, points: Sequence[tuple[float, float]]) -> list[list[int]]:
        """Square matrix of distances in whole metres."""
        ...


def great_circle_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance in metres between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + (
        math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class GreatCircleMatrix:
    """Great-circle distance stretched by a road factor: the default when no road router is set."""

    road_factor: float = 1.3

    def matrix(self, points: Sequence[tuple[float, float]]) -> list[list[int]]:
        """Square matrix of distances in whole metres."""
        return [[round(great_circle_m(a, b) * self.road_factor) for b in points] for a in points]


def travel_minutes(distance_m: int, speed_kmh: float) -> int:
    """Driving time in whole minutes, rounded up so a schedule never assumes a faster drive."""
    return math.ceil(distance_m * 60 / (speed_kmh * 1000) - _EPS)


@dataclass(frozen=True)
class Duty:
    """One shift occurrence of one vehicle: a routing vehicle, available from start to end."""

    vehicle_id: str
    depot: str
    node: int
    start_min: int
    end_min: int
    capacity_kg: int
    capacity_l: int
    skills: frozenset[str]
    speed_kmh: float
    fixed_cost: int
    vehicle_type: str = ""
    # Multi-trip: minutes a reload takes, and the depot nodes where this duty may reload
    # (each holds all the goods the duty may carry); None is one trip per shift.
    reload_min: int | None = None
    reload_nodes: tuple[int, ...] = ()
    # A break of break_min minutes within break_window (minutes after the epoch), or none.
    break_min: int = 0
    break_window: tuple[int, int] | None = None
    max_drive_min: int | None = None

    @property
    def reloads(self) -> bool:
        """Whether this duty may return to a depot to reload."""
        return self.reload_min is not None and bool(self.reload_nodes)

    def drive_min(self, distance_m: int) -> int:
        """Minutes this duty's vehicle needs to drive the distance."""
        return travel_minutes(distance_m, self.speed_kmh)


@dataclass(frozen=True)
class Job:
    """One order as a routing node: demand, skills, window, service and drop penalty."""

    order_id: str
    node: int
    location: str
    priority: Priority
    weight_kg: int
    volume_l: int
    skills: frozenset[str]
    window: tuple[int, int]
    service_min: int
    penalty: int
    allowed: tuple[int, ...]
    reason: str | None
    # Soft deliver_by: arriving after due_min costs late_penalty a minute, up to window[1].
    due_min: int | None = None
    late_penalty: int = 0


@dataclass(frozen=True)
class Problem:
    """Nodes are depots then one per job; times are minutes after the epoch."""

    epoch: datetime
    horizon_min: int
    locations: tuple[str, ...]
    distance_m: tuple[tuple[int, ...], ...]
    service_min: tuple[int, ...]
    duties: tuple[Duty, ...]
    jobs: tuple[Job, ...]
    invalid: tuple[tuple[str, str], ...] = field(default=())
    # Given travel times, the same for every vehicle (benchmarks); None derives them from speed.
    travel_min: tuple[tuple[int, ...], ...] | None = None
    locks: tuple[Lock, ...] = ()
    locked: tuple[LockedRun, ...] = ()
    # (pickup, delivery) job indices served by one duty, pickup first (benchmarks).
    pairs: tuple[tuple[int, int], ...] = ()

    @property
    def depot_count(self) -> int:
        """Nodes before the first job: the depots."""
        return len(self.locations) - len(self.jobs)

    def has_rules(self) -> bool:
        """Whether any duty reloads, takes a break or has a driving limit."""
        return any(
            d.reloads or d.break_window is not None or d.max_drive_min is not None
            for d in self.duties
        )

    def travel(self, duty: Duty, i: int, j: int) -> int:
        """Minutes the duty's vehicle needs from node i to node j."""
        if self.travel_min is not None:
            return self.travel_min[i][j]
        return travel_minutes(self.distance_m[i][j], duty.speed_kmh)

    def travel_matrix(self, duty: Duty) -> Sequence[Sequence[int]]:
        """Minutes the duty's vehicle needs between every pair of nodes."""
        if self.travel_min is not None:
            return self.travel_min
        n = range(len(self.locations))
        return [[travel_minutes(self.distance_m[a][b], duty.speed_kmh) for b in n] for a in n]


def plan_epoch(now: datetime) -> datetime:
    """The plan's time origin: now in UTC, floored to the minute."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC); naive datetimes are ambiguous")
    return now.astimezone(UTC).replace(second=0, microsecond=0)


def shift_occurrences(vehicle: Vehicle, epoch: datetime, horizon_min: int) -> list[tuple[int, int]]:
    """(start, end) minutes of the daily shifts not yet over that start within the horizon."""
    # A shift already under way starts at the epoch: the crew cannot leave in the past.
    midnight = epoch.replace(hour=0, minute=0)
    base = int((midnight - epoch).total_seconds() // 60)
    out: list[tuple[int, int]] = []
    for day in range(math.ceil(horizon_min / 1440) + 1):
        start = base + day * 1440 + vehicle.shift.start_min
        end = base + day * 1440 + vehicle.shift.end_min
        if end > 0 and start < horizon_min:
            out.append((max(start, 0), end))
    return out


def _duties(
    scenario: Scenario, depots: dict[str, int], epoch: datetime, horizon: int, p: PlanParams
) -> list[Duty]:
    duties: list[Duty] = []
    for vehicle in scenario.fleet:
        # Each later shift is a fresh trip from the depot; its fixed cost makes the solver
        # deliver in the earliest shift that can take an order.
        rules = scenario.rules(vehicle)
        for day, (start, end) in enumerate(shift_occurrences(vehicle, epoch, horizon)):
            duties.append(
                Duty(
                    vehicle_id=vehicle.id,
                    depot=vehicle.depot,
                    node=depots[vehicle.depot],
                    start_min=start,
                    end_min=end,
                    capacity_kg=math.floor(vehicle.capacity.weight_kg + _EPS),
                    capacity_l=math.floor(vehicle.capacity.volume_m3 * 1000 + _EPS),
                    skills=frozenset(vehicle.skills),
                    speed_kmh=vehicle.speed_kmh,
                    fixed_cost=day * p.later_shift_cost_m,
                    vehicle_type=vehicle.type,
                    reload_min=rules.reload_min,
                    break_min=rules.break_.length_min if rules.break_ else 0,
                    break_window=_break_window(
                        rules.break_, start, end, end - vehicle.shift.end_min
                    ),
                    max_drive_min=rules.max_drive_min,
                )
            )
    return duties


def _break_window(
    rule: Break | None, start: int, end: int, midnight: int
) -> tuple[int, int] | None:
    """The break's window on the day of the shift [start, end] (minutes after the epoch, like
    the day's `midnight`), cut to the shift; None when there is no break or it cannot fit
    in what is left of the shift (shifts lie within one UTC day)."""
    if rule is None:
        return None
    lo = max(midnight + clock_min(rule.earliest), start)
    hi = min(midnight + clock_min(rule.latest), end)
    return (lo, hi) if hi - lo >= rule.length_min else None


@dataclass(frozen=True)
class Demand:
    """An order's needs in the problem's integer units and minutes."""

    order: OrderParsed
    weight_kg: int
    volume_l: int
    skills: frozenset[str]
    window: tuple[int, int]  # the latest end includes the allowed lateness
    due: int = 0
    late_min: int = 0


def _demand(
    order: OrderParsed, scenario: Scenario, epoch: datetime, horizon: int, late: int
) -> Demand:
    items = [(scenario.item_by_sku[line.sku], line.quantity) for line in order.lines]
    weight = sum(item.weight_kg * qty for item, qty in items)
    volume = sum(item.volume_m3 * qty for item, qty in items)
    lo = 0 if order.not_before is None else _ceil_min(order.not_before - epoch)
    hi = horizon if order.deliver_by is None else _floor_min(order.deliver_by - epoch)
    return Demand(
        order=order,
        weight_kg=math.ceil(weight - _EPS),
        volume_l=math.ceil(volume * 1000 - _EPS),
        skills=frozenset(h for item, _ in items for h in item.handling),
        window=(max(lo, 0), min(hi + late, horizon)),
        due=hi,
        late_min=late,
    )


def _ceil_min(delta: timedelta) -> int:
    return math.ceil(delta.total_seconds() / 60 - _EPS)


def _floor_min(delta: timedelta) -> int:
    return math.floor(delta.total_seconds() / 60 + _EPS)


def _invalid_reason(order: OrderParsed, scenario: Scenario) -> str | None:
    if order.destination not in scenario.location_by_id:
        return f"unknown destination {order.destination!r}: not a location of this scenario"
    unknown = sorted(line.sku for line in order.lines if line.sku not in scenario.item_by_sku)
    if unknown:
        return f"unknown SKU(s) {', '.join(unknown)}: not in this scenario's catalog"
    return None


def drop_penalties(
    n_jobs: int, duties: Sequence[Duty], dist: Sequence[Sequence[int]], late_cost: int = 0
) -> dict[Priority, int]:
    """Drop penalties: a more pressing order is dropped only when it cannot be served.

    late_cost is the most lateness can cost one order, so serving late beats dropping.
    """
    # routine > any total route cost; priority > all routine together; urgent > all priority.
    longest = max((max(row) for row in dist), default=0)
    fixed = max((duty.fixed_cost for duty in duties), default=0)
    base = (n_jobs + len(duties) + 1) * (longest + fixed + late_cost) + 1
    scale = n_jobs + 1
    urgent = base * scale * scale
    if urgent * max(n_jobs, 1) > _MAX_PENALTY:
        raise ValueError(f"batch of {n_jobs} orders is too large to plan at once; split it")
    return {Priority.ROUTINE: base, Priority.PRIORITY: base * scale, Priority.URGENT: urgent}


def unique_orders(orders: Sequence[OrderParsed]) -> list[OrderParsed]:
    """A redelivered order keeps its first copy, so it becomes one job, not two."""
    seen: dict[str, OrderParsed] = {}
    for order in orders:
        seen.setdefault(order.order_id, order)
    return list(seen.values())


def build_problem(
    orders: Sequence[OrderParsed],
    scenario: Scenario,
    now: datetime,
    params: PlanParams | None = None,
    matrix: MatrixProvider | None = None,
    locks: Sequence[Lock] = (),
) -> Problem:
    """Turn a batch of orders into a routing problem over the fleet's shifts within the horizon.

    Raises LocksInfeasible when a locked order can no longer be served by its vehicle.
    """
    params = params or PlanParams()
    epoch = plan_epoch(now)
    unique = unique_orders(orders)
    invalid = [(o.order_id, r) for o in unique if (r := _invalid_reason(o, scenario)) is not None]
    valid = [o for o in unique if _invalid_reason(o, scenario) is None]
    depot_ids = list(dict.fromkeys(vehicle.depot for vehicle in scenario.fleet))
    if any(scenario.rules(v).reload_min is not None for v in scenario.fleet):
        # A vehicle may reload at any depot that holds its goods, not only at one with vehicles.
        others = [loc.id for loc in scenario.locations if loc.kind == "depot"]
        depot_ids = list(dict.fromkeys([*depot_ids, *others]))
    locations = (*depot_ids, *(o.destination for o in valid))
    points = [(scenario.location_by_id[i].lat, scenario.location_by_id[i].lon) for i in locations]
    provider = matrix or GreatCircleMatrix(scenario.road_factor)
    dist = tuple(tuple(row) for row in provider.matrix(points))
    depots = {depot: node for node, depot in enumerate(depot_ids)}
    duties = _duties(scenario, depots, epoch, round(params.horizon_hours * 60), params)
    horizon = max([round(params.horizon_hours * 60), *(duty.end_min for duty in duties)])
    jobs = _jobs(valid, scenario, epoch, horizon, duties, dist, len(depot_ids), params)
    jobs = _stocked(jobs, valid, scenario, duties)
    rostered = _reload_depots(duties, jobs, valid, scenario, depot_ids)
    # Depots have no service time: loading happens before the shift starts.
    service = (0,) * len(depot_ids) + tuple(job.service_min for job in jobs)
    return Problem(
        epoch=epoch,
        horizon_min=horizon,
        locations=locations,
        distance_m=dist,
        service_min=service,
        duties=rostered,
        jobs=jobs,
        invalid=tuple(invalid),
        locks=tuple(locks),
        locked=bind_locks(locks, jobs, duties, dict(invalid), epoch),
    )


def _skus(order: OrderParsed) -> set[str]:
    return {line.sku for line in order.lines}


def _stocked(
    jobs: Sequence[Job], orders: Sequence[OrderParsed], scenario: Scenario, duties: Sequence[Duty]
) -> tuple[Job, ...]:
    """Each job only on duties whose depot holds its goods: a vehicle loads where it starts."""
    out = []
    for job, order in zip(jobs, orders, strict=True):
        allowed = tuple(
            i for i in job.allowed if scenario.depot_holds(duties[i].depot, _skus(order))
        )
        reason = job.reason
        if reason is None and not allowed:
            goods = ", ".join(sorted(_skus(order)))
            reason = (
                f"no depot of a vehicle that could serve it holds {goods}; "
                "stock them at one (its holds in the scenario)"
            )
        out.append(replace(job, allowed=allowed, reason=reason))
    return tuple(out)


def _reload_depots(
    duties: Sequence[Duty],
    jobs: Sequence[Job],
    orders: Sequence[OrderParsed],
    scenario: Scenario,
    depot_ids: Sequence[str],
) -> tuple[Duty, ...]:
    """Where each multi-trip duty may reload: its own depot and every depot that holds all the
    goods of every job it may serve (so any trip may start at any of them)."""
    out = []
    for i, duty in enumerate(duties):
        if duty.reload_min is None:
            out.append(duty)
            continue
        skus = {
            sku for job, o in zip(jobs, orders, strict=True) if i in job.allowed for sku in _skus(o)
        }
        nodes = tuple(
            node
            for node, depot in enumerate(depot_ids)
            if depot == duty.depot or scenario.depot_holds(depot, skus)
        )
        out.append(replace(duty, reload_nodes=nodes))
    return tuple(out)


def _jobs(
    orders: Sequence[OrderParsed],
    scenario: Scenario,
    epoch: datetime,
    horizon: int,
    duties: Sequence[Duty],
    dist: Sequence[Sequence[int]],
    first_node: int,
    params: PlanParams,
) -> tuple[Job, ...]:
    late_cost = params.max_late_min * params.late_penalty_per_min
    penalties = drop_penalties(len(orders), duties, dist, late_cost)
    jobs = []
    for node, order in enumerate(orders, start=first_node):
        d = _demand(order, scenario, epoch, horizon, late_allowance_min(order, params))
        service = scenario.location_by_id[order.destination].service_min
        allowed, reason = screen(d, node, service, duties, dist, epoch)
        jobs.append(
            Job(
                order_id=order.order_id,
                node=node,
                location=order.destination,
                priority=order.priority,
                weight_kg=d.weight_kg,
                volume_l=d.volume_l,
                skills=d.skills,
                window=d.window,
                service_min=service,
                penalty=penalties[order.priority],
                allowed=allowed,
                reason=reason,
                due_min=d.due if d.late_min else None,
                late_penalty=params.late_penalty_per_min if d.late_min else 0,
            )
        )
    return tuple(jobs)


@dataclass(frozen=True)
class Customers:
    """A single-depot instance given as matrices: node 0 is the depot, nodes 1.. are customers."""

    distance: tuple[tuple[int, ...], ...]
    travel: tuple[tuple[int, ...], ...]
    demand: tuple[int, ...]
    windows: tuple[tuple[int, int], ...]
    service: tuple[int, ...]
    capacity: int
    vehicles: int


def customers_problem(c: Customers, epoch: datetime = datetime(2000, 1, 1, tzinfo=UTC)) -> Problem:
    """A problem for a homogeneous fleet at one depot, e.g. a benchmark instance."""
    horizon = c.windows[0][1]
    duties = tuple(
        Duty(f"V{v}", "0", 0, c.windows[0][0], horizon, c.capacity, 0, frozenset(), 1.0, 0)
        for v in range(c.vehicles)
    )
    penalty = drop_penalties(len(c.demand) - 1, duties, c.distance)[Priority.ROUTINE]
    every = tuple(range(c.vehicles))
    jobs = tuple(
        Job(
            order_id=str(k),
            node=k,
            location=str(k),
            priority=Priority.ROUTINE,
            weight_kg=c.demand[k],
            volume_l=0,
            skills=frozenset(),
            window=c.windows[k],
            service_min=c.service[k],
            penalty=penalty,
            allowed=every,
            reason=None,
        )
        for k in range(1, len(c.demand))
    )
    return Problem(
        epoch=epoch,
        horizon_min=horizon,
        locations=tuple(str(k) for k in range(len(c.demand))),
        distance_m=c.distance,
        service_min=c.service,
        duties=duties,
        jobs=jobs,
        travel_min=c.travel,
    )
