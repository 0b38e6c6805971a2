"""Parser metrics: outcomes, model latency and tokens, extraction confidence, queues; on the
registry of the app that owns them."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class ParserMetrics:
    """The parser's instruments; one set per app, so two apps (or tests) never share counts."""

    orders: Counter
    llm_seconds: Histogram
    llm_tokens: Counter
    confidence: Histogram
    judge_seconds: Histogram
    reviews: Counter
    answers: Counter
    waiting: Gauge
    oldest_waiting: Gauge

    @classmethod
    def on(cls, registry: CollectorRegistry) -> ParserMetrics:
        """The parser's instruments registered on `registry`."""
        return cls(
            orders=Counter(
                "qm_parser_orders",
                "Orders parsed, by outcome and reason.",
                ["outcome", "reason"],
                registry=registry,
            ),
            llm_seconds=Histogram(
                "qm_parser_llm_seconds",
                "Time the model took per order.",
                buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
                registry=registry,
            ),
            llm_tokens=Counter(
                "qm_parser_llm_tokens",
                "Tokens the model read and wrote.",
                ["kind"],
                registry=registry,
            ),
            confidence=Histogram(
                "qm_parser_confidence",
                "Confidence of extracted fields.",
                ["field"],
                buckets=(0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0),
                registry=registry,
            ),
            judge_seconds=Histogram(
                "qm_parser_judge_seconds",
                "Time the model's red-line judgement took per order.",
                buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60),
                registry=registry,
            ),
            reviews=Counter(
                "qm_parser_reviews",
                "Signed safety reviews, by decision and outcome.",
                ["decision", "outcome"],
                registry=registry,
            ),
            answers=Counter(
                "qm_parser_answers",
                "New versions answering unclear orders, by outcome (applied, or the refusal's "
                "reason code).",
                ["outcome"],
                registry=registry,
            ),
            waiting=Gauge(
                "qm_parser_waiting_orders",
                "Orders waiting for a person, as this parser last read them: review or clarify.",
                ["queue"],
                registry=registry,
            ),
            oldest_waiting=Gauge(
                "qm_parser_oldest_waiting_seconds",
                "Age of the oldest order waiting for a person, by queue (0 when none).",
                ["queue"],
                registry=registry,
            ),
        )
