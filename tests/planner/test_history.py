"""What the planner knows after a restart, folded from its topics without a broker."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel

from schemas.orders import DemandLine, OrderParsed
from schemas.topics import Topic
from services.common.codec import encode
from services.planner.history import fold, topics
from tests import factories as f


def _record(topic: Topic, message: BaseModel | bytes, key: str | None = None) -> Any:
    value = message if isinstance(message, bytes) else encode(message)
    return SimpleNamespace(topic=topic.value, key=key.encode() if key else None, value=value)


def test_a_restart_remembers_planned_orders_the_lineage_and_the_orders_behind_it():
    early = f.routed_plan({"T-1": ("ord-a", "ord-b")}, tag="early")
    late = f.routed_plan({"T-1": ("ord-b", "ord-c")}, supersedes=early.plan_id, tag="late")
    late = late.model_copy(update={"occurred_at": early.occurred_at + timedelta(minutes=5)})
    parsed = {o: _parsed(o) for o in ("ord-a", "ord-c", "ord-z")}
    records = [
        _record(Topic.PLANS_PROPOSED, late),
        _record(Topic.PLANS_PROPOSED, early),
        _record(Topic.PLANS_PROPOSED, b"{not json"),
        _record(Topic.PLANS_RELEASED, b"not a release either"),
        *(_record(Topic.ORDERS_PARSED, p, key) for key, p in parsed.items()),
    ]
    history = fold(records, 1 << 20)
    assert history.planned == ["ord-b", "ord-c", "ord-a"]  # in the order read
    assert [p.plan_id for p in history.proposals] == [early.plan_id, late.plan_id]  # by time
    assert history.released == []
    assert set(history.orders) == {"ord-a", "ord-c"}  # ord-z is in no plan: not decoded
    assert topics(False) == [Topic.PLANS_PROPOSED.value]
    assert Topic.ORDERS_PARSED.value in topics(True)


def _parsed(order_id: str) -> OrderParsed:
    return OrderParsed(
        message_id=f"p-{order_id}",
        occurred_at=f.NOW,
        order_id=order_id,
        destination="FOB-HALCYON",
        lines=(DemandLine(sku="WATER-PALLET", quantity=1, unit="pallet"),),
        text="t",
    )
