"""Planner metrics: batches, solve time and objective, unserved orders, road matrix fallbacks."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PLANS = Counter("qm_planner_plans", "Plans proposed, or refused by verification.", ["outcome"])
SOLVE_SECONDS = Histogram(
    "qm_planner_solve_seconds",
    "Wall time of one batch solve.",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
OBJECTIVE = Gauge("qm_planner_objective", "Objective of the last plan (solver units).")
BATCH_ORDERS = Histogram(
    "qm_planner_batch_orders", "Orders per batch.", buckets=(1, 2, 5, 10, 25, 50, 100, 250)
)
UNSERVED = Counter("qm_planner_unserved_orders", "Orders a plan left unserved.", ["priority"])
PENDING = Gauge("qm_planner_orders_waiting", "Parsed orders waiting for their batch to close.")
SOLVING = Gauge("qm_planner_solving", "1 while a batch is being solved, else 0.")
SEARCH_BEST = Gauge(
    "qm_planner_search_best_objective", "Best objective found so far by the running solve."
)
SEARCH_IMPROVEMENTS = Counter(
    "qm_planner_search_improvements", "New best solutions found during searches."
)
SEARCH_ELAPSED = Gauge(
    "qm_planner_search_elapsed_seconds", "Seconds into the running solve at its last new best."
)
MATRIX_FALLBACKS = Counter(
    "qm_planner_matrix_fallbacks",
    "Road matrices estimated by great circle: the service failed, or some pairs were unroutable.",
    ["provider", "reason"],
)
DISRUPTIONS = Counter(
    "qm_planner_disruptions",
    "Released plans disrupted: a vehicle went down, or a closed area cut a route.",
    ["cause"],
)
REPORTS = Counter(
    "qm_planner_theater_reports",
    "Fleet and zone reports read: applied, or refused (unsigned, untrusted, …).",
    ["topic", "outcome"],
)
VEHICLES_OUT = Gauge("qm_planner_vehicles_out", "Vehicles reported down or in maintenance.")
ZONES = Gauge("qm_planner_closed_areas", "Closed areas held (declared and not lifted).")
