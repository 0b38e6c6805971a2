"""Message contracts of Quartermaster: one frozen pydantic model per topic, v1."""

from schemas.audit import AuditRecorded
from schemas.envelope import Envelope, content_id
from schemas.orders import (
    DemandLine,
    OrderParsed,
    OrderRejected,
    OrderReviewed,
    OrderSubmitted,
    Priority,
    RefusalCategory,
    RejectionOutcome,
    ReviewDecision,
)
from schemas.plans import (
    Approval,
    Decision,
    PlanDecided,
    PlanProposed,
    PlanReleased,
    Route,
    SolverStats,
    Stop,
    Unserved,
)
from schemas.topics import CONTRACTS, Topic

__all__ = [
    "CONTRACTS",
    "Approval",
    "AuditRecorded",
    "Decision",
    "DemandLine",
    "Envelope",
    "OrderParsed",
    "OrderRejected",
    "OrderReviewed",
    "OrderSubmitted",
    "PlanDecided",
    "PlanProposed",
    "PlanReleased",
    "Priority",
    "RefusalCategory",
    "RejectionOutcome",
    "ReviewDecision",
    "Route",
    "SolverStats",
    "Stop",
    "Topic",
    "Unserved",
    "content_id",
]
