"""Planner metrics: batches, solve time and objective, unserved orders, road matrix fallbacks,
the theater's reports and disruptions; on the registry of the app that owns them."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class PlannerMetrics:
    """The planner's instruments; one set per app, so two apps (or tests) never share counts.
    Prometheus instruments are thread-safe: the solver's thread reports progress on them."""

    plans: Counter
    solve_seconds: Histogram
    objective: Gauge
    batch_orders: Histogram
    unserved: Counter
    pending: Gauge
    solving: Gauge
    search_best: Gauge
    search_improvements: Counter
    search_elapsed: Gauge
    matrix_fallbacks: Counter
    disruptions: Counter
    reports: Counter
    vehicles_out: Gauge
    zones: Gauge

    @classmethod
    def on(cls, registry: CollectorRegistry) -> PlannerMetrics:
        """The planner's instruments registered on `registry`."""
        return cls(
            plans=Counter(
                "qm_planner_plans",
                "Plans proposed, or refused by verification.",
                ["outcome"],
                registry=registry,
            ),
            solve_seconds=Histogram(
                "qm_planner_solve_seconds",
                "Wall time of one batch solve.",
                buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
                registry=registry,
            ),
            objective=Gauge(
                "qm_planner_objective",
                "Objective of the last plan (solver units).",
                registry=registry,
            ),
            batch_orders=Histogram(
                "qm_planner_batch_orders",
                "Orders per batch.",
                buckets=(1, 2, 5, 10, 25, 50, 100, 250),
                registry=registry,
            ),
            unserved=Counter(
                "qm_planner_unserved_orders",
                "Orders a plan left unserved.",
                ["priority"],
                registry=registry,
            ),
            pending=Gauge(
                "qm_planner_orders_waiting",
                "Parsed orders waiting for their batch to close.",
                registry=registry,
            ),
            solving=Gauge(
                "qm_planner_solving",
                "1 while a batch is being solved, else 0.",
                registry=registry,
            ),
            search_best=Gauge(
                "qm_planner_search_best_objective",
                "Best objective found so far by the running solve.",
                registry=registry,
            ),
            search_improvements=Counter(
                "qm_planner_search_improvements",
                "New best solutions found during searches.",
                registry=registry,
            ),
            search_elapsed=Gauge(
                "qm_planner_search_elapsed_seconds",
                "Seconds into the running solve at its last new best.",
                registry=registry,
            ),
            matrix_fallbacks=Counter(
                "qm_planner_matrix_fallbacks",
                "Road matrices estimated by great circle: the service failed, or some pairs were "
                "unroutable.",
                ["provider", "reason"],
                registry=registry,
            ),
            disruptions=Counter(
                "qm_planner_disruptions",
                "Released plans disrupted: a vehicle went down, or a closed area cut a route.",
                ["cause"],
                registry=registry,
            ),
            reports=Counter(
                "qm_planner_theater_reports",
                "Fleet and zone reports read: applied, or refused (unsigned, untrusted, …).",
                ["topic", "outcome"],
                registry=registry,
            ),
            vehicles_out=Gauge(
                "qm_planner_vehicles_out",
                "Vehicles reported down or in maintenance.",
                registry=registry,
            ),
            zones=Gauge(
                "qm_planner_closed_areas",
                "Closed areas held (declared and not lifted).",
                registry=registry,
            ),
        )
