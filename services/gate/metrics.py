"""Release gate metrics, on the registry of the app that owns them."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True)
class GateMetrics:
    """The gate's instruments; one set per app, so two apps (or tests) never share counts."""

    decisions: Counter
    refusals: Counter
    releases: Counter
    plans_known: Gauge
    plans_pending: Gauge
    oldest_pending: Gauge
    reports: Counter

    @classmethod
    def on(cls, registry: CollectorRegistry) -> GateMetrics:
        """The gate's instruments registered on `registry`."""
        return cls(
            decisions=Counter(
                "qm_gate_decisions",
                "Decisions processed, by decision.",
                ["decision"],
                registry=registry,
            ),
            refusals=Counter(
                "qm_gate_refusals",
                "Decisions the gate refused, by reason.",
                ["reason"],
                registry=registry,
            ),
            releases=Counter(
                "qm_gate_releases",
                "Plans released after verified human approval.",
                registry=registry,
            ),
            plans_known=Gauge(
                "qm_gate_plans_known",
                "Distinct proposed plans the gate has read.",
                registry=registry,
            ),
            plans_pending=Gauge(
                "qm_gate_plans_pending",
                "Proposed plans with no final outcome yet.",
                registry=registry,
            ),
            oldest_pending=Gauge(
                "qm_gate_oldest_pending_plan_seconds",
                "Age of the oldest proposed plan still waiting for a human decision (0 when none).",
                registry=registry,
            ),
            reports=Counter(
                "qm_gate_theater_reports",
                "Fleet and zone reports the gate read: applied, tombstone, or refused (why).",
                ["topic", "outcome"],
                registry=registry,
            ),
        )
