"""What the planner knows after a restart, folded from the topics: pure, so restart semantics
are tested without a broker."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.orders import OrderParsed
from schemas.plans import PlanProposed, PlanReleased
from schemas.topics import Topic
from services.common.codec import DecodeError, decode


def topics(replan: bool) -> list[str]:
    """What is read back at start: proposals, and for re-planning releases and the orders."""
    read = [Topic.PLANS_PROPOSED.value]
    if replan:
        read += [Topic.PLANS_RELEASED.value, Topic.ORDERS_PARSED.value]
    return read


@dataclass
class History:
    """Orders already in a proposed plan (in the order read, so the batcher's bounded memory
    forgets the oldest first), the proposals by time, the released plan ids, and the parsed
    orders behind the planned ones."""

    planned: list[str] = field(default_factory=list)
    proposals: list[PlanProposed] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    orders: dict[str, OrderParsed] = field(default_factory=dict)


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
