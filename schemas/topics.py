"""The single list of topics and the contract each one carries."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from schemas.audit import AuditRecorded
from schemas.disruptions import PlanDisrupted
from schemas.fleet import VehicleReported
from schemas.orders import OrderParsed, OrderRejected, OrderReviewed, OrderSubmitted
from schemas.plans import PlanDecided, PlanProposed, PlanReleased
from schemas.zones import ZoneDeclared

# Topic-level retention that never deletes: no age limit, no size limit. Compaction would not do
# either: the audit trail is a hash chain (every record links the one before), and every release is
# evidence of what left the depot, not just the latest state of a plan.
KEPT_FOREVER: dict[str, str] = {"retention.ms": "-1", "retention.bytes": "-1"}
# The latest record per key is the state (a vehicle's status, a zone): compaction keeps it forever
# and lets a tombstone (null value) remove a key.
COMPACTED: dict[str, str] = {"cleanup.policy": "compact"}


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
    FLEET_REPORTED = "fleet.reported.v1"
    ZONES_DECLARED = "zones.declared.v1"
    PLANS_DISRUPTED = "plans.disrupted.v1"

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
    def compacted(self) -> bool:
        """State topics: the latest record per key (vehicle, zone) is what holds."""
        return self in (Topic.FLEET_REPORTED, Topic.ZONES_DECLARED)

    @property
    def config(self) -> dict[str, str]:
        """Topic-level settings set at creation; empty means the broker's defaults."""
        if self.kept_forever:
            return dict(KEPT_FOREVER)
        return dict(COMPACTED) if self.compacted else {}


CONTRACTS: dict[Topic, type[BaseModel]] = {
    Topic.ORDERS_SUBMITTED: OrderSubmitted,
    Topic.ORDERS_PARSED: OrderParsed,
    Topic.ORDERS_REJECTED: OrderRejected,
    Topic.ORDERS_REVIEWED: OrderReviewed,
    Topic.PLANS_PROPOSED: PlanProposed,
    Topic.PLANS_DECIDED: PlanDecided,
    Topic.PLANS_RELEASED: PlanReleased,
    Topic.AUDIT_EVENTS: AuditRecorded,
    Topic.FLEET_REPORTED: VehicleReported,
    Topic.ZONES_DECLARED: ZoneDeclared,
    Topic.PLANS_DISRUPTED: PlanDisrupted,
}
