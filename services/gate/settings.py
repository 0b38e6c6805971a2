"""Release gate settings (env prefix QM_GATE_)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class GateSettings(CommonSettings):
    """How the release gate runs."""

    model_config = SettingsConfigDict(env_prefix="QM_GATE_", extra="ignore")

    metrics_port: int = Field(default=9403, ge=0, le=65535)
    plan_wait_s: float = Field(
        default=3.0,
        gt=0,
        description="how long a new decision waits for its plan to be read (blocks its partition)",
    )
    decision_max_lifetime_h: float = Field(
        default=12.0,
        gt=0,
        le=168,
        description="longest a signed decision may live (expires_at - decided_at), in hours",
    )
    clock_skew_s: float = Field(
        default=120.0,
        ge=0,
        le=3600,
        description="how far a decision's decided_at may lie ahead of the gate's clock",
    )

    @property
    def max_lifetime(self) -> timedelta:
        """The longest lifetime of a decision."""
        return timedelta(hours=self.decision_max_lifetime_h)

    @property
    def clock_skew(self) -> timedelta:
        """The clock skew tolerated on decided_at."""
        return timedelta(seconds=self.clock_skew_s)
