"""Signed safety reviews of held orders, checked like plan decisions before anything moves.

A held order goes nowhere until a person with a reviewing role signs a release or a refusal
over the exact text they read. The check is pure: the trust store, the held orders, the
reviews already applied and `now` are passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from schemas.orders import OrderParsed, OrderRejected, OrderReviewed, RejectionOutcome, text_sha256
from schemas.topics import Topic
from services.common.codec import DecodeError, decode
from services.common.signing import TrustStore, check_signer

# Where held orders, and what people decided about them, can be read back.
HISTORY_TOPICS = (Topic.ORDERS_REJECTED.value, Topic.ORDERS_PARSED.value)

REVIEW_ROLES = frozenset({"reviewer", "approver"})


class ReviewRefusal(StrEnum):
    """Why a review was not applied; each is a reason code a person can read."""

    UNTRUSTED_STORE = "untrusted_store"
    UNSIGNED = "unsigned"
    UNKNOWN_KEY = "unknown_key"
    KEY_OPERATOR_MISMATCH = "key_operator_mismatch"
    KEY_EXPIRED = "key_expired"
    BAD_SIGNATURE = "bad_signature"
    ROLE_NOT_PERMITTED = "role_not_permitted"
    NOT_HELD = "not_held"
    TEXT_MISMATCH = "text_mismatch"
    DECIDED_IN_FUTURE = "decided_in_future"
    EXPIRED = "expired"
    TOO_LONG_LIVED = "too_long_lived"
    ALREADY_DECIDED = "already_decided"


@dataclass
class ReviewState:
    """Orders waiting for review, and the reviews already applied (order id -> review id)."""

    held: dict[str, OrderRejected] = field(default_factory=dict)
    decided: dict[str, str] = field(default_factory=dict)

    def remember(self, rejected: OrderRejected) -> None:
        """Track a held order; a later human refusal of it closes it."""
        if rejected.outcome is RejectionOutcome.REVIEW:
            self.held[rejected.order_id] = rejected
        elif rejected.decided_by.startswith("human:"):
            self.decided.setdefault(rejected.order_id, rejected.decided_by)

    def absorb(self, records: Iterable[Any], max_bytes: int) -> None:
        """Fold HISTORY_TOPICS records in: held orders, and those a person released or refused."""
        for record in records:
            try:
                if record.topic == Topic.ORDERS_REJECTED.value:
                    self.remember(decode(OrderRejected, record.value, max_bytes))
                    continue
                parsed = decode(OrderParsed, record.value, max_bytes)
            except DecodeError:
                continue  # the live subscribers dead-letter what does not decode
            for flag in parsed.flags:
                if flag.startswith("review_of:"):
                    self.decided.setdefault(flag.removeprefix("review_of:"), "released")


@dataclass(frozen=True)
class ReviewCheck:
    """Whether a review may be applied, and why not."""

    refusal: ReviewRefusal | None
    detail: str = ""


OK = ReviewCheck(None)


def _authenticate(review: OrderReviewed, trust: TrustStore, now: datetime) -> ReviewCheck:
    refused = check_signer(review, trust, now, "review")
    if refused is not None:
        return ReviewCheck(ReviewRefusal(refused[0]), refused[1])
    if review.role not in REVIEW_ROLES:
        return ReviewCheck(ReviewRefusal.ROLE_NOT_PERMITTED, f"role {review.role} may not review")
    return OK


def _timely(review: OrderReviewed, now: datetime, skew: timedelta, life: timedelta) -> ReviewCheck:
    if review.decided_at > now + skew:
        return ReviewCheck(ReviewRefusal.DECIDED_IN_FUTURE, review.decided_at.isoformat())
    if review.expires_at <= now or review.expires_at <= review.decided_at:
        return ReviewCheck(ReviewRefusal.EXPIRED, f"expired {review.expires_at.isoformat()}")
    if review.expires_at - review.decided_at > life:
        return ReviewCheck(ReviewRefusal.TOO_LONG_LIVED, f"lives longer than {life}")
    return OK


def check_review(
    review: OrderReviewed,
    state: ReviewState,
    trust: TrustStore,
    now: datetime,
    skew: timedelta = timedelta(minutes=5),
    life: timedelta = timedelta(hours=24),
) -> ReviewCheck:
    """Signature, key, role, timing, the held order and its exact text; applied once."""
    checked = _authenticate(review, trust, now)
    if checked.refusal is None:
        checked = _timely(review, now, skew, life)
    if checked.refusal is not None:
        return checked
    if review.order_id in state.decided:
        return ReviewCheck(ReviewRefusal.ALREADY_DECIDED, state.decided[review.order_id])
    held: OrderRejected | None = state.held.get(review.order_id)
    if held is None:
        return ReviewCheck(ReviewRefusal.NOT_HELD, f"{review.order_id} is not held for review")
    if held.text is None or text_sha256(held.text) != review.text_sha256:
        return ReviewCheck(ReviewRefusal.TEXT_MISMATCH, "signed text is not the held order's")
    return OK


def held_orders(state: ReviewState) -> Mapping[str, OrderRejected]:
    """Orders still waiting for a person."""
    return {k: v for k, v in state.held.items() if k not in state.decided}
