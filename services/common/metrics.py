"""Metric wiring shared by services: one registry per app, served on /metrics.

Every instrument is registered on the registry of the app that owns it (each service's
`*Metrics.on(registry)`), never on prometheus_client's process-wide default, so two apps in one
process (the tests build dozens) never add to each other's counts.
"""

from __future__ import annotations

import logging

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    start_http_server,
)

log = logging.getLogger("qm")


def app_registry() -> CollectorRegistry:
    """A fresh registry for a service process: its own instruments plus the process, platform
    and garbage-collector metrics the default registry would have carried."""
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


def dead_letters_counter(registry: CollectorRegistry) -> Counter:
    """Messages a service sent to a dead-letter topic, by reason."""
    return Counter(
        "qm_dead_letters",
        "Messages sent to a dead-letter topic, by reason.",
        ["service", "topic", "reason"],
        registry=registry,
    )


def consumer_lag_gauge(registry: CollectorRegistry) -> Gauge:
    """What a consumer group has not committed yet, per partition."""
    return Gauge(
        "qm_consumer_lag",
        "Messages a consumer group has not committed yet, per partition.",
        ["group", "topic", "partition"],
        registry=registry,
    )


def serve_metrics(port: int, registry: CollectorRegistry, host: str = "127.0.0.1") -> None:
    """Expose /metrics on host:port (port 0 disables)."""
    if port <= 0:
        return
    start_http_server(port, addr=host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", host, port)
