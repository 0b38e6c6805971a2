"""What the planner knows after a restart, folded from the topics: pure, so restart semantics
are tested without a broker."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from schemas.audit import AuditRecorded
from schemas.fleet import VehicleReported
from schemas.orders import OrderParsed
from schemas.plans import PlanProposed, PlanReleased
from schemas.theater import Reported
from schemas.topics import Topic
from schemas.zones import ZoneDeclared
from services.common.codec import DecodeError, decode
from services.common.zones import ZoneBook
from services.planner.fleet import FleetState

R = TypeVar("R", bound=Reported)


def topics(replan: bool) -> list[str]:
    """What is read back at start: proposals, and for re-planning releases, the gate's
    outcomes (rejections) and the orders."""
    read = [Topic.PLANS_PROPOSED.value]
    if replan:
        read += [Topic.PLANS_RELEASED.value, Topic.AUDIT_EVENTS.value, Topic.ORDERS_PARSED.value]
    return read


@dataclass
class History:
    """Orders already in a proposed plan (in the order read, so the batcher's bounded memory
    forgets the oldest first), the proposals by time, the released and the rejected plan ids,
    and the parsed orders behind the planned ones."""

    planned: list[str] = field(default_factory=list)
    proposals: list[PlanProposed] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    orders: dict[str, OrderParsed] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)


def fold(records: Sequence[Any], max_bytes: int) -> History:
    """Records (anything with .topic, .key, .value) folded into a History; what does not
    decode is not ours to judge (the consumers dead-letter it)."""
    history = History()
    for record in records:
        with contextlib.suppress(DecodeError):
            if record.topic == Topic.PLANS_PROPOSED.value:
                history.proposals.append(decode(PlanProposed, record.value, max_bytes))
            elif record.topic == Topic.PLANS_RELEASED.value:
                history.released.append(decode(PlanReleased, record.value, max_bytes).plan_id)
            elif record.topic == Topic.AUDIT_EVENTS.value:
                entry = decode(AuditRecorded, record.value, max_bytes)
                if entry.kind == "plan_rejected":
                    history.rejected.append(entry.plan_id)
    history.planned = list(dict.fromkeys(o for p in history.proposals for o in p.order_ids))
    history.proposals.sort(key=lambda p: p.occurred_at)
    history.orders = _parsed_orders(records, set(history.planned), max_bytes)
    return history


def _parsed_orders(
    records: Iterable[Any], wanted: set[str], max_bytes: int
) -> dict[str, OrderParsed]:
    """The parsed orders behind planned ones (keyed by order id, so the rest is not decoded)."""
    orders: dict[str, OrderParsed] = {}
    for record in records:
        if record.topic != Topic.ORDERS_PARSED.value:
            continue
        if record.key is not None and record.key.decode(errors="replace") not in wanted:
            continue
        with contextlib.suppress(DecodeError):
            order = decode(OrderParsed, record.value, max_bytes)
            if order.order_id in wanted:
                orders[order.order_id] = order
    return orders


def theater_topics() -> list[str]:
    """The state topics read whole at every start: fleet reports and closed areas."""
    return [Topic.FLEET_REPORTED.value, Topic.ZONES_DECLARED.value]


def fold_theater(
    records: Iterable[Any], max_bytes: int, trusted: Callable[[Reported], bool]
) -> tuple[FleetState, ZoneBook]:
    """The latest trusted report per vehicle and per zone; a null value (tombstone) removes
    its key. What does not decode or is not signed by a trusted key is left to the consumers
    to dead-letter."""
    fleet, zones = FleetState(), ZoneBook()
    for record in records:
        key = (record.key or b"").decode(errors="replace")
        if record.topic == Topic.FLEET_REPORTED.value:
            report = _report(VehicleReported, record.value, max_bytes, trusted)
            if report is not False:
                fleet.apply(report.vehicle_id if report else key, report)
        elif record.topic == Topic.ZONES_DECLARED.value:
            zone = _report(ZoneDeclared, record.value, max_bytes, trusted)
            if zone is not False:
                zones.apply(zone.zone_id if zone else key, zone)
    return fleet, zones


def _report(
    model: type[R], value: bytes | None, max_bytes: int, trusted: Callable[[Reported], bool]
) -> R | Literal[False] | None:
    """The decoded, trusted report; None for a tombstone; False for one to ignore."""
    if not value:
        return None
    try:
        report = decode(model, value, max_bytes)
    except DecodeError:
        return False
    return report if trusted(report) else False
