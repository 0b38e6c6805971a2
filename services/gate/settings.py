"""Release gate settings (env prefix QM_GATE_)."""

from __future__ import annotations

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
