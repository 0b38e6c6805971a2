"""The single list of topics and the contract each one carries."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from schemas.audit import AuditRecorded
from schemas.orders import OrderParsed, OrderRejected, OrderReviewed, OrderSubmitted
from schemas.plans import PlanDecided, PlanProposed, PlanReleased

# Topic-level retention that never deletes: no age limit, no size limit. Compaction would not do
# either: the audit trail is a hash chain (every record links the one before), and every release is
# evidence of what left the depot, not just the latest state of a plan.
KEPT_FOREVER: dict[str, str] = {"retention.ms": "-1", "retention.bytes": "-1"}


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

    @property
    def kept_forever(self) -> bool:
        """The history people answer for: every signed human decision (plan decisions and
        safety reviews), the releases and the audit trail; created with KEPT_FOREVER, guarded
        by ACLs."""
        return self in (
            Topic.PLANS_DECIDED,
            Topic.ORDERS_REVIEWED,
            Topic.PLANS_RELEASED,
            Topic.AUDIT_EVENTS,
        )

    @property
    def config(self) -> dict[str, str]:
        """Topic-level settings set at creation; empty means the broker's defaults."""
        return dict(KEPT_FOREVER) if self.kept_forever else {}


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
