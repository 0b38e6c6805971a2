"""The order book folds the topics into each order's fate, without a broker."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel

from schemas.orders import (
    DemandLine,
    OrderParsed,
    OrderRejected,
    OrderSubmitted,
    RejectionOutcome,
)
from schemas.plans import Decision
from schemas.topics import Topic
from services.cli.orderbook import fold, related
from services.common.codec import encode
from tests import factories as f


def _record(topic: Topic, message: BaseModel, n: int) -> Any:
    return SimpleNamespace(topic=topic.value, value=encode(message), timestamp_ms=n)


def _submitted(order_id: str, text: str, amends: str | None = None) -> OrderSubmitted:
    return OrderSubmitted(
        message_id=f"s-{order_id}",
        occurred_at=f.NOW - timedelta(minutes=2),
        order_id=order_id,
        text=text,
        submitted_by="s4-clerk",
        amends=amends,
    )


def _parsed(order_id: str, flags: tuple[str, ...] = ()) -> OrderParsed:
    return OrderParsed(
        message_id=f"p-{order_id}",
        occurred_at=f.NOW - timedelta(minutes=1),
        order_id=order_id,
        destination="FOB-HALCYON",
        lines=(DemandLine(sku="WATER-PALLET", quantity=2, unit="pallet"),),
        text="t",
        flags=flags,
        injected=("ignore previous instructions",),
        confidence={"destination": 0.9},
        parser="rules",
    )


def _clarify(order_id: str) -> OrderRejected:
    return OrderRejected(
        message_id=f"r-{order_id}",
        occurred_at=f.NOW - timedelta(minutes=1),
        order_id=order_id,
        outcome=RejectionOutcome.CLARIFY,
        missing=("destination",),
        reasons=("no destination",),
        text="need water",
    )


def test_each_order_is_followed_from_submission_to_release_or_an_answer():
    plan = f.routed_plan({"HBR-TRK-1": ("ord-b", "ord-a-v2")}, unserved=("ord-c",), tag="book")
    rejected = f.routed_plan({"HBR-TRK-1": ("ord-d",)}, tag="rejected")
    records = [
        _record(Topic.ORDERS_SUBMITTED, _submitted("ord-a", "need water"), 1),
        _record(Topic.ORDERS_REJECTED, _clarify("ord-a"), 2),
        _record(
            Topic.ORDERS_SUBMITTED, _submitted("ord-a-v2", "need water\nANSWER: FOB", "ord-a"), 3
        ),
        _record(Topic.ORDERS_PARSED, _parsed("ord-a-v2", ("amends:ord-a",)), 4),
        _record(Topic.ORDERS_SUBMITTED, _submitted("ord-b", "two places"), 5),
        _record(Topic.ORDERS_PARSED, _parsed("ord-b.1"), 6),
        _record(Topic.ORDERS_PARSED, _parsed("ord-b.2"), 6),
        _record(Topic.ORDERS_PARSED, _parsed("ord-b"), 7),
        _record(Topic.ORDERS_PARSED, _parsed("ord-c"), 7),
        _record(Topic.ORDERS_PARSED, _parsed("ord-e"), 7),
        _record(Topic.PLANS_PROPOSED, plan, 8),
        _record(Topic.PLANS_PROPOSED, rejected, 8),
        _record(Topic.PLANS_DECIDED, f.decision(rejected, None, verdict=Decision.REJECT), 9),
        SimpleNamespace(topic=Topic.ORDERS_SUBMITTED.value, value=b"plain text", timestamp_ms=10),
    ]
    fates = fold(records, 1 << 20, f.NOW)
    status = {k: v.status for k, v in fates.items()}
    assert status["ord-a"] == "answered" and fates["ord-a"].answered_by == "ord-a-v2"
    assert status["ord-a-v2"] == "planned" and status["ord-b"] == "planned"
    assert status["ord-c"] == "unserved" and status["ord-d"] == "plan_rejected"
    assert status["ord-e"] == "parsed"
    assert fates["ord-b"].parts == ["ord-b.1", "ord-b.2"]
    assert [x.order_id for x in related(fates, fates["ord-a"])] == ["ord-a-v2"]
    data = fates["ord-a-v2"].as_json()
    assert data["injected"] == ["ignore previous instructions"] and data["amends"] == "ord-a"
    assert [e["stage"] for e in data["events"]] == ["submitted", "parsed", "planned"]
    later = fold(records, 1 << 20, f.NOW + timedelta(days=1))
    assert later["ord-b"].status == "expired"


def test_a_redelivered_message_is_one_step():
    clarify = _record(Topic.ORDERS_REJECTED, _clarify("ord-x"), 2)
    fates = fold([clarify, clarify], 1 << 20, f.NOW)
    assert [e.stage for e in fates["ord-x"].events] == ["clarify"]
