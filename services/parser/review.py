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

from schemas.envelope import content_id
from schemas.orders import (
    OrderParsed,
    OrderRejected,
    OrderReviewed,
    OrderSubmitted,
    RejectionOutcome,
    text_sha256,
)
from schemas.topics import Topic
from services.common.codec import DecodeError, decode
from services.common.signing import TrustStore, check_signer, normal_id

# Where held orders, and what people decided about them, can be read back.
HISTORY_TOPICS = (Topic.ORDERS_REJECTED.value, Topic.ORDERS_PARSED.value)

REVIEW_ROLES = frozenset({"reviewer", "approver"})
# Who may answer an order waiting for clarification besides the person who sent it.
ANSWER_ROLES = frozenset({"approver"})
# What a new version of an order can answer: a question back, or text that could not be read.
ANSWERABLE = frozenset({RejectionOutcome.CLARIFY, RejectionOutcome.INVALID})
AMENDS_FLAG = "amends:"


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
    NOT_OPEN = "not_open"
    NOT_REQUESTER = "not_requester"


@dataclass
class ReviewState:
    """Orders waiting for a person: held for safety review (and the reviews already applied,
    order id -> review id), or waiting for clarification (and the versions that answered them,
    order id -> new order id)."""

    held: dict[str, OrderRejected] = field(default_factory=dict)
    decided: dict[str, str] = field(default_factory=dict)
    unclear: dict[str, OrderRejected] = field(default_factory=dict)
    answered: dict[str, str] = field(default_factory=dict)

    def remember(self, rejected: OrderRejected) -> None:
        """Track a held or unclear order; a later human refusal closes a held one."""
        self.note_answer(rejected.order_id, rejected.flags)
        if rejected.outcome is RejectionOutcome.REVIEW:
            self.held[rejected.order_id] = rejected
        elif rejected.outcome in ANSWERABLE:
            self.unclear[rejected.order_id] = rejected
        elif rejected.decided_by.startswith("human:"):
            self.decided.setdefault(rejected.order_id, rejected.decided_by)

    def note_answer(self, order_id: str, flags: Iterable[str]) -> None:
        """Record that `order_id` is a new version answering the order its flags name."""
        for flag in flags:
            if flag.startswith(AMENDS_FLAG):
                self.answered.setdefault(flag.removeprefix(AMENDS_FLAG), order_id)

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
            self.note_answer(parsed.order_id, parsed.flags)
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


def waiting_for_answer(state: ReviewState) -> Mapping[str, OrderRejected]:
    """Orders waiting for clarification that no newer version has answered."""
    return {k: v for k, v in state.unclear.items() if k not in state.answered}


def check_answer(
    order: OrderSubmitted, state: ReviewState, trust: TrustStore, now: datetime
) -> ReviewCheck:
    """A new version of an unclear order: signed over its own text by a trusted key of the
    order's requester, or of an approver; the old order still waiting; answered once."""
    original_id = order.amends or ""
    claim = order.signed_submitter()
    if claim is None:
        return ReviewCheck(ReviewRefusal.UNSIGNED, "an answer must be signed over its own text")
    refused = check_signer(claim, trust, now, "answer")
    if refused is not None:
        return ReviewCheck(ReviewRefusal(refused[0]), refused[1])
    if original_id in state.answered:
        return ReviewCheck(
            ReviewRefusal.ALREADY_DECIDED, f"answered already by {state.answered[original_id]}"
        )
    original = state.unclear.get(original_id)
    if original is None:
        return ReviewCheck(
            ReviewRefusal.NOT_OPEN, f"{original_id} is not waiting for clarification"
        )
    asked_by = original.submitter.operator_id if original.submitter else original.submitted_by
    if normal_id(claim.operator_id) != normal_id(asked_by or "") and not (
        ANSWER_ROLES & set(trust.keys[claim.key_id].roles)
    ):
        return ReviewCheck(
            ReviewRefusal.NOT_REQUESTER,
            f"{claim.operator_id} neither sent {original_id} nor holds an approving role",
        )
    return OK


def refused_answer(order: OrderSubmitted, checked: ReviewCheck) -> OrderRejected:
    """The rejection of an answer that may not be applied: the unclear order stays open."""
    assert checked.refusal is not None
    return OrderRejected(
        message_id=content_id("msg", "answer-refused", order.order_id),
        occurred_at=order.occurred_at,
        order_id=order.order_id,
        outcome=RejectionOutcome.INVALID,
        reasons=(f"answer to {order.amends} refused ({checked.refusal.value}): {checked.detail}",),
        text=order.text,
        submitted_by=order.submitted_by,
        flags=(f"answer_refused:{order.amends}",),
    )
