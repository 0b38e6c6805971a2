"""The review history fold the parser and `qm orders review` share."""

from __future__ import annotations

from types import SimpleNamespace

from schemas.envelope import utcnow
from schemas.orders import (
    DemandLine,
    OrderParsed,
    OrderRejected,
    RefusalCategory,
    RejectionOutcome,
)
from services.common.codec import encode
from services.parser.review import ReviewState, held_orders


def _rejected(order_id: str, outcome: RejectionOutcome, by: str = "") -> SimpleNamespace:
    message = OrderRejected(
        message_id=f"m-{order_id}-{outcome.value}",
        occurred_at=utcnow(),
        order_id=order_id,
        outcome=outcome,
        category=RefusalCategory.USE_OF_FORCE,
        reasons=("r",),
        text="t",
        decided_by=by,
    )
    return SimpleNamespace(topic="orders.rejected.v1", value=encode(message))


def _released(order_id: str) -> SimpleNamespace:
    message = OrderParsed(
        message_id=f"m-{order_id}-parsed",
        occurred_at=utcnow(),
        order_id=f"{order_id}.1",
        destination="FOB-HALCYON",
        lines=(DemandLine(sku="WATER-PALLET", quantity=1, unit="pallet"),),
        text="t",
        flags=(f"review_of:{order_id}",),
    )
    return SimpleNamespace(topic="orders.parsed.v1", value=encode(message))


def test_only_orders_no_person_has_decided_stay_held() -> None:
    """Held, then released or refused by a person, closes; junk records are passed over."""
    records = [
        _rejected("a", RejectionOutcome.REVIEW),
        _rejected("b", RejectionOutcome.REVIEW),
        _rejected("c", RejectionOutcome.REVIEW),
        _released("a"),
        _rejected("b", RejectionOutcome.REFUSED, by="human:duty-officer"),
        SimpleNamespace(topic="orders.parsed.v1", value=b"{not json"),
    ]
    state = ReviewState()
    state.absorb(records, 1 << 20)
    assert set(held_orders(state)) == {"c"}
    assert state.decided == {"a": "released", "b": "human:duty-officer"}
