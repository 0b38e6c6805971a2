"""Order contracts: free text in, a structured demand or a reasoned rejection out."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.envelope import Envelope


class Priority(StrEnum):
    """Order priority; the planner turns it into a drop penalty."""

    URGENT = "urgent"
    PRIORITY = "priority"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """Higher is more pressing."""
        return {"urgent": 3, "priority": 2, "routine": 1}[self.value]


class RejectionOutcome(StrEnum):
    """Why an order did not become a demand."""

    CLARIFY = "clarify"
    REFUSED = "refused"
    INVALID = "invalid"
    REVIEW = "review"  # held for a person's signed safety review (v1.1)


class RefusalCategory(StrEnum):
    """The red line a refused order crossed."""

    SURVEILLANCE = "surveillance"
    USE_OF_FORCE = "use_of_force"


class Submitter(BaseModel):
    """A person's signed claim "I sent this order", carried from submission to the plan (v1.1).

    It covers the order id and the SHA-256 of the exact text, so the claim cannot be moved to
    other words or another order. The gate trusts who submitted an order only through this
    signature, never through the typed `submitted_by`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: str = Field(min_length=1, max_length=128)
    text_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    operator_id: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=64)
    signed_at: AwareDatetime
    key_id: str = Field(default="", description="fingerprint of the signing public key")
    signature: str = Field(default="", description="base64 Ed25519 signature of signed_payload()")

    def signed_payload(self) -> dict[str, Any]:
        """The canonical envelope that the signature covers."""
        return {
            "type": "qm.order-submission.v1",
            "order_id": self.order_id,
            "text_sha256": self.text_sha256,
            "operator_id": self.operator_id,
            "role": self.role,
            "signed_at": self.signed_at.astimezone(UTC).isoformat(),
            "key_id": self.key_id,
        }


class OrderSubmitted(Envelope):
    """A free-text supply order as a person wrote it."""

    order_id: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=20_000)
    submitted_by: str | None = Field(default=None, max_length=200)
    submitter: Submitter | None = Field(
        default=None, description="the sender's signature over this order (v1.1)"
    )
    amends: str | None = Field(
        default=None,
        max_length=128,
        description="the order waiting for clarification that this version answers (v1.1); "
        "accepted only when signed by its requester or an approving role, once",
    )

    def signed_submitter(self) -> Submitter | None:
        """The signed claim if it is about this very order and text; None otherwise. (The parts
        a text for several places is split into carry their original's claim, given by the
        parser: a client cannot claim one by naming its order `ID.n`.)"""
        claim = self.submitter
        if claim is None or claim.order_id != self.order_id:
            return None
        return claim if claim.text_sha256 == text_sha256(self.text) else None


def derives_from(order_id: str, original: str) -> bool:
    """True for the order itself and for the parts a text for several places was split into."""
    return order_id == original or order_id.startswith(original + ".")


# [start, end) character offsets into an order's text.
Span = tuple[int, int]


def _check_spans(text: str, spans: Sequence[Span]) -> None:
    for start, end in spans:
        if not 0 <= start < end <= len(text):
            raise ValueError(f"span [{start}, {end}) is not inside the text ({len(text)} chars)")


class DemandLine(BaseModel):
    """One catalog item and a whole quantity in the catalog unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1_000_000)
    unit: str = Field(min_length=1, max_length=16)


class OrderParsed(Envelope):
    """A structured demand the planner can act on."""

    order_id: str = Field(min_length=1, max_length=128)
    destination: str = Field(min_length=1, max_length=64)
    lines: tuple[DemandLine, ...] = Field(min_length=1)
    priority: Priority = Priority.ROUTINE
    not_before: AwareDatetime | None = None
    deliver_by: AwareDatetime | None = None
    requester: str | None = None
    submitted_by: str | None = None
    submitter: Submitter | None = Field(
        default=None, description="the sender's signed claim, checked against the text (v1.1)"
    )
    text: str
    injected: tuple[str, ...] = Field(
        default=(), description="segments cut out as prompt injection: never read for fields (v1.1)"
    )
    confidence: dict[str, float] = Field(default_factory=dict)
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="where each field came from: the order's words that named it, or the rule "
        "or model that decided it (v1.1)",
    )
    spans: dict[str, tuple[Span, ...]] = Field(
        default_factory=dict,
        description="for each field the rules read from the words: [start, end) character "
        "offsets into `text` of the words that named it (v1.1)",
    )
    flags: tuple[str, ...] = ()
    parser: str = Field(default="", description="backend/model that extracted the fields")

    @model_validator(mode="after")
    def _window_is_ordered(self) -> OrderParsed:
        if self.not_before and self.deliver_by and self.not_before > self.deliver_by:
            raise ValueError("not_before must not be later than deliver_by")
        if len({line.sku for line in self.lines}) != len(self.lines):
            raise ValueError("each SKU may appear only once in lines")
        _check_spans(self.text, [s for spans in self.spans.values() for s in spans])
        return self


class OrderRejected(Envelope):
    """An order that needs clarification, crossed a red line, or could not be read."""

    order_id: str = Field(min_length=1, max_length=128)
    outcome: RejectionOutcome
    category: RefusalCategory | None = None
    missing: tuple[Literal["destination", "quantity", "item", "time"], ...] = ()
    reasons: tuple[str, ...] = Field(min_length=1)
    text: str | None = None
    submitted_by: str | None = None
    submitter: Submitter | None = Field(
        default=None, description="the sender's signed claim, kept for a held order (v1.1)"
    )
    injected: tuple[str, ...] = Field(
        default=(), description="segments cut out as prompt injection (v1.1)"
    )
    flags: tuple[str, ...] = ()
    evidence: tuple[str, ...] = Field(
        default=(), description="sentences of the order that show a red line (v1.1)"
    )
    evidence_spans: tuple[Span, ...] = Field(
        default=(),
        description="[start, end) character offsets into `text` of the evidence (v1.1)",
    )
    decided_by: str = Field(
        default="", description="the layer that refused or held: rules, model, rules+model (v1.1)"
    )

    @model_validator(mode="after")
    def _category_only_for_refusals(self) -> OrderRejected:
        judged = self.outcome in (RejectionOutcome.REFUSED, RejectionOutcome.REVIEW)
        if judged != (self.category is not None):
            raise ValueError("category is required for refused or held orders and only for them")
        _check_spans(self.text or "", self.evidence_spans)
        return self


class ReviewDecision(StrEnum):
    """What a person decided about an order held for safety review."""

    RELEASE = "release"
    REFUSE = "refuse"


class OrderReviewed(Envelope):
    """A person's safety review of a held order, signed with the operator's Ed25519 key.

    The signature covers the exact text the reviewer read (`text_sha256`), so a release can
    never be carried over to other words.
    """

    order_id: str = Field(min_length=1, max_length=128)
    text_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    decision: ReviewDecision
    category: RefusalCategory | None = None
    operator_id: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)
    decided_at: AwareDatetime
    expires_at: AwareDatetime
    key_id: str = Field(default="", description="fingerprint of the signing public key")
    signature: str = Field(default="", description="base64 Ed25519 signature of signed_payload()")

    @model_validator(mode="after")
    def _category_only_for_refusals(self) -> OrderReviewed:
        if (self.decision is ReviewDecision.REFUSE) != (self.category is not None):
            raise ValueError("a refusal names its category; a release names none")
        return self

    def signed_payload(self) -> dict[str, Any]:
        """The canonical envelope that the signature covers."""
        return {
            "type": "qm.order-review.v1",
            "order_id": self.order_id,
            "text_sha256": self.text_sha256,
            "decision": self.decision.value,
            "category": self.category.value if self.category else None,
            "operator_id": self.operator_id,
            "role": self.role,
            "reason": self.reason,
            "decided_at": self.decided_at.astimezone(UTC).isoformat(),
            "expires_at": self.expires_at.astimezone(UTC).isoformat(),
            "key_id": self.key_id,
        }


def text_sha256(text: str) -> str:
    """What a safety reviewer signs for: the SHA-256 of the order text exactly as they read it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
