"""Plan contracts: proposed by the planner, decided by a human, released by the gate."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.envelope import Envelope, sha256_hex
from schemas.orders import DemandLine, Priority, Submitter


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Stop(_Frozen):
    """A delivery of one order at one location."""

    order_id: str
    location: str
    arrival: AwareDatetime
    departure: AwareDatetime
    lines: tuple[DemandLine, ...]
    priority: Priority
    handling: tuple[str, ...] = ()
    load_kg: float = Field(ge=0, description="weight delivered at this stop")
    late_min: int = Field(default=0, ge=0)


class Reload(_Frozen):
    """A return to a depot within the route to load the next trip (multi-trip)."""

    depot: str
    after_stops: int = Field(ge=1, description="stops of the route delivered before it")
    arrival: AwareDatetime
    departure: AwareDatetime
    load_kg: float = Field(ge=0, description="weight loaded here for the stops up to the next")
    load_m3: float = Field(ge=0)


class Break(_Frozen):
    """A rest the crew takes, off the road and between stops."""

    start: AwareDatetime
    end: AwareDatetime


class Route(_Frozen):
    """One vehicle's tour from its depot and back, reloading on the way where it says so."""

    vehicle_id: str
    depot: str
    start: AwareDatetime
    end: AwareDatetime
    stops: tuple[Stop, ...]
    distance_km: float = Field(ge=0)
    load_kg: float = Field(ge=0, description="everything the route delivers, over all its trips")
    load_m3: float = Field(ge=0)
    reloads: tuple[Reload, ...] = Field(
        default=(), description="returns to a depot to reload, in the order driven"
    )
    breaks: tuple[Break, ...] = Field(default=(), description="the crew's breaks")


class Unserved(_Frozen):
    """An order the plan leaves out, and why."""

    order_id: str
    priority: Priority
    reason: str


class SolverStats(_Frozen):
    """How the plan was found."""

    status: str
    objective: int
    wall_seconds: float = Field(ge=0)
    time_limit_seconds: float = Field(gt=0)
    params: dict[str, Any] = Field(default_factory=dict)


class SignedOrder(_Frozen):
    """Which sender's claim covers a served order: its own, or that of the text the parser split
    it from (the planner copies what the parser attached to each demand)."""

    order_id: str
    claim: Submitter


class PlanProposed(Envelope):
    """A delivery plan waiting for human review."""

    plan_id: str
    plan_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    order_ids: tuple[str, ...] = Field(min_length=1)
    requested_by: tuple[str, ...] = ()
    submitters: tuple[SignedOrder, ...] = Field(
        default=(),
        description="the senders' signed claims, one per served order that had one (v1.1); the "
        "gate verifies them itself and trusts no other statement of who asked",
    )
    routes: tuple[Route, ...]
    unserved: tuple[Unserved, ...] = ()
    distance_km: float = Field(ge=0)
    solver: SolverStats
    scenario: str = Field(description="scenario name and content hash the plan was built from")
    risk: tuple[str, ...] = ()
    approvals_required: int = Field(default=1, ge=1, le=5)
    expires_at: AwareDatetime
    supersedes: str | None = Field(
        default=None,
        description="plan id this plan replaces: decisions on that plan are refused from now on;"
        " if it was released, its stops are locked to their vehicles here",
    )
    zones: str | None = Field(
        default=None,
        description="the closed areas the plan was checked against (count and hash, v1.1); no "
        "leg crosses one while it is closed",
    )

    def content(self) -> dict[str, Any]:
        """The part of the plan the hash covers: everything but the envelope and the hash.

        `supersedes`, `submitters` and a route's `reloads` and `breaks` join the content only
        when set, so plans from before those fields keep their hashes.
        """
        content = self.model_dump(
            mode="json", exclude={"message_id", "occurred_at", "schema_version", "plan_hash"}
        )
        if content["supersedes"] is None:
            del content["supersedes"]
        if content["zones"] is None:  # set by the planner only; older plans keep their hashes
            del content["zones"]
        if not content["submitters"]:
            del content["submitters"]
        for route in content["routes"]:
            for key in ("reloads", "breaks"):
                if not route[key]:
                    del route[key]
        return content

    def computed_hash(self) -> str:
        """SHA-256 over the canonical JSON of the plan content."""
        return sha256_hex(self.content())


def superseded_plans(plan: PlanProposed, known: Mapping[str, PlanProposed]) -> list[str]:
    """Ids of the plans `plan` replaces, newest first: the one it supersedes, the one that one
    superseded, and so on through the plans in `known`."""
    found: list[str] = []
    step = plan.supersedes
    while step is not None and step not in found:
        found.append(step)
        earlier = known.get(step)
        step = earlier.supersedes if earlier is not None else None
    return found


class Decision(StrEnum):
    """What a human decided about a plan."""

    APPROVE = "approve"
    REJECT = "reject"


class PlanDecided(Envelope):
    """A human decision about one exact plan, signed with the operator's Ed25519 key."""

    plan_id: str
    plan_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    decision: Decision
    operator_id: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=2000)
    decided_at: AwareDatetime
    expires_at: AwareDatetime
    key_id: str = Field(default="", description="fingerprint of the signing public key")
    signature: str = Field(default="", description="base64 Ed25519 signature of signed_payload()")

    def signed_payload(self) -> dict[str, Any]:
        """The canonical envelope that the signature covers."""
        return decision_payload(
            self.plan_id,
            self.plan_hash,
            self.decision,
            self.operator_id,
            self.role,
            self.reason,
            self.decided_at,
            self.expires_at,
            self.key_id,
        )


def decision_payload(
    plan_id: str,
    plan_hash: str,
    decision: Decision,
    operator_id: str,
    role: str,
    reason: str,
    decided_at: datetime,
    expires_at: datetime,
    key_id: str,
) -> dict[str, Any]:
    """What an operator signs: the payload type, the exact plan, who, why and until when."""
    return {
        "type": "qm.plan-decision.v1",
        "plan_id": plan_id,
        "plan_hash": plan_hash,
        "decision": decision.value,
        "operator_id": operator_id,
        "role": role,
        "reason": reason,
        "decided_at": decided_at.astimezone(UTC).isoformat(),
        "expires_at": expires_at.astimezone(UTC).isoformat(),
        "key_id": key_id,
    }


class Approval(_Frozen):
    """The verified approval a released plan carries."""

    operator_id: str
    role: str
    key_id: str
    decided_at: AwareDatetime
    expires_at: AwareDatetime
    reason: str
    signature: str
    decision_id: str

    def signed_payload(self, plan_id: str, plan_hash: str) -> dict[str, Any]:
        """The payload the signature covers, so anyone can re-verify a release offline."""
        return decision_payload(
            plan_id,
            plan_hash,
            Decision.APPROVE,
            self.operator_id,
            self.role,
            self.reason,
            self.decided_at,
            self.expires_at,
            self.key_id,
        )


class PlanReleased(Envelope):
    """A plan a human approved and the gate verified: what downstream systems execute."""

    plan_id: str
    plan_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    approvals: tuple[Approval, ...] = Field(min_length=1)
    plan: PlanProposed
