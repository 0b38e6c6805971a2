"""Release gate metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DECISIONS = Counter("qm_gate_decisions", "Decisions processed, by decision.", ["decision"])
REFUSALS = Counter("qm_gate_refusals", "Decisions the gate refused, by reason.", ["reason"])
RELEASES = Counter("qm_gate_releases", "Plans released after verified human approval.")
PLANS_KNOWN = Gauge("qm_gate_plans_known", "Distinct proposed plans the gate has read.")
PLANS_PENDING = Gauge("qm_gate_plans_pending", "Proposed plans with no final outcome yet.")
OLDEST_PENDING = Gauge(
    "qm_gate_oldest_pending_plan_seconds",
    "Age of the oldest proposed plan still waiting for a human decision (0 when none).",
)
