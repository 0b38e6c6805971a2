"""A released plan that the theater broke: a vehicle went down, or a zone closed over a route."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.envelope import Envelope

DisruptionCause = Literal["vehicle_down", "zone_closed"]


class PlanDisrupted(Envelope):
    """Released stops that can no longer be driven as released; the planner proposes a revision
    that moves only them, for a human to approve as usual."""

    plan_id: str = Field(description="the released plan that is disrupted")
    cause: DisruptionCause
    vehicle_ids: tuple[str, ...] = Field(description="the vehicles whose released stops move")
    order_ids: tuple[str, ...] = Field(description="the released stops that move")
    zone_id: str | None = None
    detail: str = ""
    revision: str | None = Field(
        default=None, description="the plan proposed to replace it, when one could be made"
    )
