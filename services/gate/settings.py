"""Release gate settings (env prefix QM_GATE_)."""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings
from services.common.signing import TrustStore, UntrustedStoreError


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

    @model_validator(mode="after")
    def _deployment_trusts_someone(self) -> Self:
        # With no operator keys every decision is refused: a gate that can release nothing.
        # The signature is checked when the gate reads the store; this only needs keys to exist.
        if self.environment != "deployment":
            return self
        path = self.trust_store
        try:
            keys = TrustStore.load(path).keys
        except (UntrustedStoreError, ValueError) as err:
            raise ValueError(
                f"the trust store {path} cannot be read ({err}); have the administrator sign a "
                "fresh one with `qm keys sign-store`"
            ) from None
        if not keys:
            raise ValueError(
                f"QM_ENVIRONMENT=deployment refuses an empty or missing trust store at {path} "
                "(the gate could approve nothing); add operators with `qm keys create`, have the "
                "administrator sign the store with `qm keys sign-store` and mount it at "
                "$QM_STATE_DIR/trust/operators.json, or set QM_ENVIRONMENT=local"
            )
        return self

    @property
    def max_lifetime(self) -> timedelta:
        """The longest lifetime of a decision."""
        return timedelta(hours=self.decision_max_lifetime_h)

    @property
    def clock_skew(self) -> timedelta:
        """The clock skew tolerated on decided_at."""
        return timedelta(seconds=self.clock_skew_s)
