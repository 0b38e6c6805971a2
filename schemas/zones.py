"""Closed areas: the latest declaration of each zone, on a compacted topic keyed by zone id."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.theater import Position, Reported


class Circle(BaseModel):
    """A round area: centre and radius."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    center: Position
    radius_m: float = Field(gt=0, le=500_000)


class ZoneDeclared(Reported):
    """An area no route may cross within its validity window; `lifted` (or a tombstone, a null
    value under the zone's key) removes it."""

    SIGNED_TYPE: ClassVar[str] = "qm.zone-declaration.v1"

    zone_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    declared_at: AwareDatetime
    polygon: tuple[Position, ...] | None = Field(
        default=None, description="the ring of corners, in order (not closed: last ≠ first)"
    )
    circle: Circle | None = None
    valid_from: AwareDatetime | None = Field(default=None, description="None: already closed")
    valid_until: AwareDatetime | None = Field(default=None, description="None: until lifted")
    lifted: bool = False

    @model_validator(mode="after")
    def _one_shape(self) -> ZoneDeclared:
        shapes = (self.polygon is not None) + (self.circle is not None)
        if not self.lifted and shapes != 1:
            raise ValueError("a closed area is either a polygon or a circle: give exactly one")
        if self.polygon is not None and len(self.polygon) < 3:
            raise ValueError("a polygon needs at least 3 corners")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self
