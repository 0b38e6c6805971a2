"""Metric wiring shared by services: one registry per process, served on /metrics."""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, CollectorRegistry, Counter, start_http_server

log = logging.getLogger("qm")

DEAD_LETTERS = Counter(
    "qm_dead_letters",
    "Messages sent to a dead-letter topic, by reason.",
    ["service", "topic", "reason"],
)


def serve_metrics(port: int, registry: CollectorRegistry = REGISTRY) -> None:
    """Expose /metrics on 127.0.0.1:port (0 disables)."""
    if port <= 0:
        return
    start_http_server(port, addr="127.0.0.1", registry=registry)
    log.info("metrics on http://127.0.0.1:%d/metrics", port)
