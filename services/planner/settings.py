"""Planner settings (env prefix QM_PLANNER_)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings
from services.planner.batching import BatchParams
from services.planner.problem import MatrixKind, PlanParams
from services.planner.solver import Construction, SolveParams


class PlannerSettings(CommonSettings):
    """How orders are batched and how long the solver may search."""

    model_config = SettingsConfigDict(env_prefix="QM_PLANNER_", extra="ignore")

    batch_max_orders: int = Field(default=25, ge=1, le=1000)
    batch_window_s: float = Field(
        default=30.0, gt=0, description="close a batch this long after its first order"
    )
    time_limit_s: float = Field(
        default=5.0, gt=0, le=600, description="solver time limit per batch"
    )
    solver_workers: int = Field(
        default=SolveParams.workers,
        ge=1,
        le=8,
        description="parallel searches per batch, the best plan kept; 1 on a single busy core",
    )
    construction: Literal["sisr", "savings", "none"] = Field(
        default="sisr",
        description="where OR-Tools' search starts: routes from our ruin and recreate (sisr, "
        "built with the C compiler), our savings routes, or OR-Tools' own construction (none)",
    )
    horizon_hours: float = Field(default=48.0, gt=0)
    plan_ttl_hours: float = Field(default=6.0, gt=0)
    max_late_min: int = Field(
        default=0, ge=0, description="non-urgent orders may arrive this late after deliver_by"
    )
    late_penalty_per_min: int = Field(
        default=1000, ge=1, description="cost of a minute late, in metres of driving"
    )
    dedupe: bool = Field(
        default=True,
        description="at start, read proposals back so no order is planned twice; "
        "off only to show the chaos oracle catches duplicates",
    )
    replan: bool = Field(
        default=True,
        description="a new batch joins the latest open plan and supersedes it; stops of a "
        "released plan stay locked to their vehicle and order",
    )
    replan_max_orders: int = Field(
        default=100, ge=1, description="no re-plan beyond this many orders: start a fresh plan"
    )
    sisr_library: Path | None = Field(
        default=None,
        description="a prebuilt ruin-and-recreate library (images without a compiler); "
        "unset: compiled once into the cache",
    )
    matrix_url: str = Field(
        default="",
        pattern=r"^(https?://.+)?$",
        description="road matrix service for road distances; empty: great circle",
    )
    matrix_kind: MatrixKind = Field(
        default="osrm",
        description="matrix_url's API: osrm (GET /table/v1/driving) "
        "or valhalla (POST /sources_to_targets)",
    )
    group_id: str = "qm-planner"
    metrics_port: int = Field(default=9402, ge=0, le=65535)

    @model_validator(mode="after")
    def _deployment_dedupes(self) -> Self:
        # Without it a restart plans again the orders already proposed: vehicles sent twice.
        if self.environment == "deployment" and not self.dedupe:
            raise ValueError(
                "QM_ENVIRONMENT=deployment refuses QM_PLANNER_DEDUPE=false: after a restart the "
                "planner would plan orders a second time; unset QM_PLANNER_DEDUPE (or set it "
                "true), or QM_ENVIRONMENT=local to show the chaos oracle catching duplicates"
            )
        return self

    def batch_params(self) -> BatchParams:
        """Batching parameters."""
        return BatchParams(
            max_orders=self.batch_max_orders, window=timedelta(seconds=self.batch_window_s)
        )

    def plan_params(self) -> PlanParams:
        """Problem and plan parameters."""
        return PlanParams(
            horizon_hours=self.horizon_hours,
            plan_ttl=timedelta(hours=self.plan_ttl_hours),
            max_late_min=self.max_late_min,
            late_penalty_per_min=self.late_penalty_per_min,
            matrix_url=self.matrix_url,
            matrix_kind=self.matrix_kind,
        )

    def solve_params(self) -> SolveParams:
        """Solver parameters."""
        start = None if self.construction == "none" else self.construction
        return SolveParams(
            time_limit_s=self.time_limit_s,
            workers=self.solver_workers,
            construction=Construction(start=start),
        )
