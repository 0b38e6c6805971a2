"""Turn a solution into a PlanProposed: routes with ETAs and loads, reasoned unserved orders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

from schemas.envelope import content_id
from schemas.orders import OrderParsed, Priority
from schemas.plans import (
    Break,
    PlanProposed,
    Reload,
    Route,
    SignedOrder,
    SolverStats,
    Stop,
    Unserved,
)
from services.common.scenario import Scenario
from services.planner.explain import vehicle_label
from services.planner.problem import PlanParams, Problem, unique_orders

if TYPE_CHECKING:  # the solver's result types only; this module must not load OR-Tools
    from services.planner.solver import Solution, Tour

EXHAUSTED = "fleet time or capacity exhausted"
# A valid placeholder: the real hash covers the finished model, so it is set afterwards.
_PLACEHOLDER_HASH = "0" * 64


def plan_id(orders: Sequence[OrderParsed], scenario_version: str, params: object) -> str:
    """Stable id from the batch's order ids, the scenario and the parameters."""
    return content_id("plan", sorted({o.order_id for o in orders}), scenario_version, params)


def make_plan(
    orders: Sequence[OrderParsed],
    scenario: Scenario,
    scenario_version: str,
    solution: Solution,
    problem: Problem,
    params: PlanParams,
    now: datetime,
) -> PlanProposed:
    """Build the plan a human reviews; its id depends only on inputs, its hash on its content."""
    by_id = {order.order_id: order for order in unique_orders(orders)}
    routes = tuple(_route(tour, problem, scenario, by_id) for tour in solution.tours)
    plan = PlanProposed(
        message_id="pending",
        occurred_at=now,
        plan_id=plan_id(orders, scenario_version, _id_params(params, solution, problem)),
        plan_hash=_PLACEHOLDER_HASH,
        order_ids=tuple(sorted(by_id)),
        requested_by=tuple(sorted({o.submitted_by for o in by_id.values() if o.submitted_by})),
        submitters=tuple(
            SignedOrder(order_id=order_id, claim=order.submitter)
            for order_id, order in sorted(by_id.items())
            if order.submitter is not None
        ),
        routes=routes,
        unserved=_unserved(problem, solution, by_id),
        distance_km=round(sum(route.distance_km for route in routes), 3),
        solver=SolverStats(
            status=solution.status,
            objective=solution.objective,
            wall_seconds=solution.wall_seconds,
            time_limit_seconds=solution.time_limit_s,
            params=_id_params(params, solution, problem),
        ),
        scenario=scenario_version,
        risk=_risk(list(by_id.values()), scenario),
        approvals_required=1,
        expires_at=now + params.plan_ttl,
    )
    plan = plan.model_copy(update={"approvals_required": 2 if plan.risk else 1})
    digest = plan.computed_hash()
    final = plan.model_copy(
        update={"plan_hash": digest, "message_id": content_id("msg", plan.plan_id, digest)}
    )
    # model_copy skips validation; re-validate so a bad hash or field can never be published.
    return PlanProposed.model_validate(final.model_dump())


def _id_params(params: PlanParams, solution: Solution, problem: Problem) -> dict[str, object]:
    ids: dict[str, object] = {"plan": params.as_dict(), "solve": solution.params}
    if problem.locks:  # only then, so plans without locks keep their ids
        ids["locks"] = [[lk.order_id, lk.vehicle_id, lk.position] for lk in problem.locks]
    return ids


def _route(
    tour: Tour, problem: Problem, scenario: Scenario, by_id: dict[str, OrderParsed]
) -> Route:
    duty = problem.duties[tour.duty]
    stops = []
    nodes = [duty.node]
    for visit in tour.visits:
        job = problem.jobs[visit.job]
        order = by_id[job.order_id]
        arrival = _at(problem, visit.arrival_min)
        stops.append(
            Stop(
                order_id=order.order_id,
                location=order.destination,
                arrival=arrival,
                departure=arrival + timedelta(minutes=job.service_min),
                lines=order.lines,
                priority=order.priority,
                handling=tuple(sorted(job.skills)),
                load_kg=round(order_weight_kg(order, scenario), 3),
                late_min=0 if job.due_min is None else max(0, visit.arrival_min - job.due_min),
            )
        )
        nodes.append(job.node)
    for reload in reversed(tour.reloads):  # from the last, so earlier positions hold
        nodes.insert(reload.after + 1, reload.node)
    nodes.append(duty.node)
    metres = sum(problem.distance_m[a][b] for a, b in pairwise(nodes))
    return Route(
        vehicle_id=duty.vehicle_id,
        depot=duty.depot,
        start=_at(problem, tour.start_min),
        end=_at(problem, tour.end_min),
        stops=tuple(stops),
        distance_km=round(metres / 1000, 3),
        load_kg=round(sum(stop.load_kg for stop in stops), 3),
        load_m3=round(sum(order_volume_m3(by_id[s.order_id], scenario) for s in stops), 4),
        reloads=_reloads(tour, problem, scenario, stops, by_id),
        breaks=tuple(Break(start=_at(problem, a), end=_at(problem, b)) for a, b in tour.breaks),
    )


def _reloads(
    tour: Tour,
    problem: Problem,
    scenario: Scenario,
    stops: Sequence[Stop],
    by_id: dict[str, OrderParsed],
) -> tuple[Reload, ...]:
    """Each reload with what it loads: the stops up to the next reload or the route's end."""
    duty = problem.duties[tour.duty]
    bounds = [r.after for r in tour.reloads] + [len(stops)]
    out = []
    for reload, upto in zip(tour.reloads, bounds[1:], strict=True):
        trip = [by_id[stop.order_id] for stop in stops[reload.after : upto]]
        arrival = _at(problem, reload.arrival_min)
        out.append(
            Reload(
                depot=problem.locations[reload.node],
                after_stops=reload.after,
                arrival=arrival,
                departure=arrival + timedelta(minutes=duty.reload_min or 0),
                load_kg=round(sum(order_weight_kg(o, scenario) for o in trip), 3),
                load_m3=round(sum(order_volume_m3(o, scenario) for o in trip), 4),
            )
        )
    return tuple(out)


def _at(problem: Problem, minute: int) -> datetime:
    return problem.epoch + timedelta(minutes=minute)


def order_weight_kg(order: OrderParsed, scenario: Scenario) -> float:
    """Total weight of an order's lines."""
    return sum(scenario.item_by_sku[ln.sku].weight_kg * ln.quantity for ln in order.lines)


def order_volume_m3(order: OrderParsed, scenario: Scenario) -> float:
    """Total volume of an order's lines."""
    return sum(scenario.item_by_sku[ln.sku].volume_m3 * ln.quantity for ln in order.lines)


def _unserved(
    problem: Problem, solution: Solution, by_id: dict[str, OrderParsed]
) -> tuple[Unserved, ...]:
    # The problem screened each job with the counterfactual checks (skills, size, window);
    # a job that passed them all yet was dropped lost out to other orders.
    reasons = dict(problem.invalid)
    for k in solution.dropped:
        job = problem.jobs[k]
        reasons[job.order_id] = job.reason or exhausted_reason(problem, solution, k)
    items = [
        Unserved(order_id=oid, priority=by_id[oid].priority, reason=reason)
        for oid, reason in reasons.items()
    ]
    return tuple(sorted(items, key=lambda u: (-u.priority.rank, u.order_id)))


def exhausted_reason(problem: Problem, solution: Solution, k: int) -> str:
    """Why a servable job was dropped: which resource binds, and what would serve it.

    The screen established that each allowed duty could serve the job alone, so one more
    vehicle like the first of them would serve it; what binds is capacity when the orders
    competing for those duties outweigh them or none has room left, time otherwise (always
    time when one of them reloads).
    """
    job = problem.jobs[k]
    allowed = set(job.allowed)
    used_kg = dict.fromkeys(allowed, 0)
    used_l = dict.fromkeys(allowed, 0)
    for tour in solution.tours:
        if tour.duty in allowed:
            used_kg[tour.duty] = sum(problem.jobs[v.job].weight_kg for v in tour.visits)
            used_l[tour.duty] = sum(problem.jobs[v.job].volume_l for v in tour.visits)
    duties = {i: problem.duties[i] for i in allowed}
    # A duty that reloads has room on a next trip: what binds it is time, not its capacity.
    reloading = any(duty.reloads for duty in duties.values())
    room = [
        i
        for i, duty in duties.items()
        if duty.reloads
        or (
            used_kg[i] + job.weight_kg <= duty.capacity_kg
            and used_l[i] + job.volume_l <= duty.capacity_l
        )
    ]
    competing = [other for other in problem.jobs if allowed & set(other.allowed)]
    need_kg = sum(other.weight_kg for other in competing)
    cap_kg = sum(duty.capacity_kg for duty in duties.values())
    need_l = sum(other.volume_l for other in competing)
    cap_l = sum(duty.capacity_l for duty in duties.values())
    shifts = f"{len(duties)} vehicle shift{'s' if len(duties) != 1 else ''} that could serve it"
    if need_kg > cap_kg and not reloading:
        binds = (
            f"capacity binds, orders competing for the {shifts} need {need_kg} kg of {cap_kg} kg"
        )
    elif need_l > cap_l and not reloading:
        binds = (
            f"capacity binds, orders competing for the {shifts} need "
            f"{need_l / 1000:.2f} m3 of {cap_l / 1000:.2f} m3"
        )
    elif not room:
        binds = f"capacity binds, none of the {shifts} has room left for its {job.weight_kg} kg"
    else:
        binds = (
            f"time binds, {len(room)} of the {shifts} {'has' if len(room) == 1 else 'have'} "
            f"room for its {job.weight_kg} kg "
            f"but no time left within shifts and windows"
        )
    best = problem.duties[job.allowed[0]]
    like = f"one more vehicle like {vehicle_label(best)} at {best.depot} would serve it"
    return f"{EXHAUSTED}: {binds}; {like}"


def _risk(orders: Sequence[OrderParsed], scenario: Scenario) -> tuple[str, ...]:
    """Why the plan needs two approvers: urgent orders, or items the catalog marks (hazmat,
    cold chain, secure, Class V). The gate recomputes the catalog part itself."""
    urgent = ("urgent",) if any(o.priority is Priority.URGENT for o in orders) else ()
    return urgent + scenario.two_person_reasons(line.sku for o in orders for line in o.lines)
