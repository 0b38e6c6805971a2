"""The single list of topics and the contract each one carries."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from schemas.audit import AuditRecorded
from schemas.orders import OrderParsed, OrderRejected, OrderReviewed, OrderSubmitted
from schemas.plans import PlanDecided, PlanProposed, PlanReleased


class Topic(StrEnum):
    """Kafka topics, named `<domain>.<event>.v<major>`."""

    ORDERS_SUBMITTED = "orders.submitted.v1"
    ORDERS_PARSED = "orders.parsed.v1"
    ORDERS_REJECTED = "orders.rejected.v1"
    ORDERS_REVIEWED = "orders.reviewed.v1"
    PLANS_PROPOSED = "plans.proposed.v1"
    PLANS_DECIDED = "plans.decided.v1"
    PLANS_RELEASED = "plans.released.v1"
    AUDIT_EVENTS = "audit.events.v1"

    @property
    def dlq(self) -> str:
        """The dead-letter topic for malformed messages read from this topic."""
        return f"{self.value}.dlq"

    @property
    def ordered(self) -> bool:
        """Topics that need one partition because their records form a single chain."""
        return self is Topic.AUDIT_EVENTS


CONTRACTS: dict[Topic, type[BaseModel]] = {
    Topic.ORDERS_SUBMITTED: OrderSubmitted,
    Topic.ORDERS_PARSED: OrderParsed,
    Topic.ORDERS_REJECTED: OrderRejected,
    Topic.ORDERS_REVIEWED: OrderReviewed,
    Topic.PLANS_PROPOSED: PlanProposed,
    Topic.PLANS_DECIDED: PlanDecided,
    Topic.PLANS_RELEASED: PlanReleased,
    Topic.AUDIT_EVENTS: AuditRecorded,
}
