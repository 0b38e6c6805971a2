"""Fleet state: the latest report on each vehicle, on a compacted topic keyed by vehicle id."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field, model_validator

from schemas.theater import Position, Reported


class VehicleStatus(StrEnum):
    """Whether a vehicle can be planned."""

    AVAILABLE = "available"
    DOWN = "down"
    MAINTENANCE = "maintenance"


class VehicleReported(Reported):
    """A vehicle's state as a duty officer reported it; the latest report per vehicle counts."""

    SIGNED_TYPE: ClassVar[str] = "qm.vehicle-report.v1"

    vehicle_id: str = Field(min_length=1, max_length=64)
    status: VehicleStatus
    reported_at: AwareDatetime
    position: Position | None = Field(
        default=None, description="where the vehicle is, when known (at position_at)"
    )
    position_at: AwareDatetime | None = None
    available_from: AwareDatetime | None = Field(
        default=None,
        description="when it can be planned again (down / maintenance), or from when (available)",
    )

    @model_validator(mode="after")
    def _position_has_a_time(self) -> VehicleReported:
        if self.position_at is not None and self.position is None:
            raise ValueError("position_at without a position: give both or neither")
        return self
