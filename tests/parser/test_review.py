"""The review history fold the parser and `qm orders review` share."""

from __future__ import annotations

from types import SimpleNamespace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.envelope import utcnow
from schemas.orders import (
    DemandLine,
    OrderParsed,
    OrderRejected,
    OrderSubmitted,
    RefusalCategory,
    RejectionOutcome,
    Submitter,
    text_sha256,
)
from services.common.codec import encode
from services.common.signing import TrustStore, sign_submission, trusted_key_for
from services.parser.review import (
    OK,
    ReviewRefusal,
    ReviewState,
    check_answer,
    held_orders,
    waiting_for_answer,
)


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


def _unclear(order_id: str, by: str | None = "s4-clerk") -> OrderRejected:
    return OrderRejected(
        message_id=f"m-{order_id}",
        occurred_at=utcnow(),
        order_id=order_id,
        outcome=RejectionOutcome.CLARIFY,
        missing=("destination",),
        reasons=("no destination",),
        text="need 10 pallets of water",
        submitted_by=by,
    )


def _answer(
    original: str, key: Ed25519PrivateKey, operator: str, role: str, n: int = 1
) -> OrderSubmitted:
    text = f"need 10 pallets of water. Deliver to FOB Halcyon. ({n})"
    order_id = f"{original}-v{n}"
    claim = Submitter(
        order_id=order_id,
        text_sha256=text_sha256(text),
        operator_id=operator,
        role=role,
        signed_at=utcnow(),
    )
    return OrderSubmitted(
        message_id=f"m-{order_id}",
        occurred_at=utcnow(),
        order_id=order_id,
        text=text,
        submitted_by=operator,
        submitter=sign_submission(claim, key),
        amends=original,
    )


def test_an_unclear_order_is_answered_once_by_its_requester_or_an_approver() -> None:
    clerk, duty, other = (Ed25519PrivateKey.generate() for _ in range(3))
    trust = TrustStore()
    trust.add(trusted_key_for(clerk, "s4-clerk", "Clerk", ("requester",)))
    trust.add(trusted_key_for(duty, "duty-officer", "Duty", ("approver",)))
    trust.add(trusted_key_for(other, "other-clerk", "Other", ("requester",)))
    state = ReviewState()
    for order_id in ("a", "b", "c"):
        state.remember(_unclear(order_id))
    now = utcnow()
    assert check_answer(_answer("a", clerk, "s4-clerk", "requester"), state, trust, now) == OK
    assert check_answer(_answer("b", duty, "duty-officer", "approver"), state, trust, now) == OK
    cases = {
        ReviewRefusal.NOT_REQUESTER: _answer("c", other, "other-clerk", "requester"),
        ReviewRefusal.NOT_OPEN: _answer("nowhere", clerk, "s4-clerk", "requester"),
        ReviewRefusal.KEY_OPERATOR_MISMATCH: _answer("c", other, "s4-clerk", "requester"),
        ReviewRefusal.UNSIGNED: _answer("c", clerk, "s4-clerk", "requester").model_copy(
            update={"text": "need 10 pallets of water. Deliver to FOB Lightning."}
        ),
    }
    for reason, answer in cases.items():
        assert check_answer(answer, state, trust, now).refusal is reason, reason
    # Once a version answering `a` is read back, a second answer is refused.
    first = _answer("a", clerk, "s4-clerk", "requester")
    state.note_answer(first.order_id, (f"amends:{first.amends}",))
    late = _answer("a", clerk, "s4-clerk", "requester", n=2)
    assert check_answer(late, state, trust, now).refusal is ReviewRefusal.ALREADY_DECIDED
    assert set(waiting_for_answer(state)) == {"b", "c"}
