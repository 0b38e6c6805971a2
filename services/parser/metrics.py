"""Parser metrics: outcomes, model latency and tokens, extraction confidence."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ORDERS = Counter("qm_parser_orders", "Orders parsed, by outcome and reason.", ["outcome", "reason"])
LLM_SECONDS = Histogram(
    "qm_parser_llm_seconds",
    "Time the model took per order.",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)
LLM_TOKENS = Counter("qm_parser_llm_tokens", "Tokens the model read and wrote.", ["kind"])
CONFIDENCE = Histogram(
    "qm_parser_confidence",
    "Confidence of extracted fields.",
    ["field"],
    buckets=(0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0),
)
JUDGE_SECONDS = Histogram(
    "qm_parser_judge_seconds",
    "Time the model's red-line judgement took per order.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60),
)
REVIEWS = Counter(
    "qm_parser_reviews", "Signed safety reviews, by decision and outcome.", ["decision", "outcome"]
)
ANSWERS = Counter(
    "qm_parser_answers",
    "New versions answering unclear orders, by outcome (applied, or the refusal's reason code).",
    ["outcome"],
)
WAITING = Gauge(
    "qm_parser_waiting_orders",
    "Orders waiting for a person, as this parser last read them: review or clarify.",
    ["queue"],
)
OLDEST_WAITING = Gauge(
    "qm_parser_oldest_waiting_seconds",
    "Age of the oldest order waiting for a person, by queue (0 when none).",
    ["queue"],
)
