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


def serve_metrics(
    port: int, registry: CollectorRegistry = REGISTRY, host: str = "127.0.0.1"
) -> None:
    """Expose /metrics on host:port (port 0 disables)."""
    if port <= 0:
        return
    start_http_server(port, addr=host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", host, port)
