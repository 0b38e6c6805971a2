"""Builds the release gate's FastStream app from settings."""

from __future__ import annotations

import logging

from faststream import FastStream
from prometheus_client import CollectorRegistry

from schemas.envelope import utcnow
from services.common.broker import make_broker
from services.common.kafka import read_topics
from services.common.lifecycle import wire_live
from services.common.signing import UntrustedStoreError, load_verified_store
from services.gate.handlers import Gate, build_router
from services.gate.history import THEATER, TOPICS, fold, fold_theater
from services.gate.metrics import GateMetrics
from services.gate.settings import GateSettings

log = logging.getLogger("qm.gate")


async def preload(gate: Gate) -> None:
    """Read past proposals and releases before consuming decisions, so none is re-released."""
    settings = gate.settings
    history = fold(
        await read_topics(settings.kafka_bootstrap, list(TOPICS)), settings.max_message_bytes
    )
    gate.state, gate.head = history.state, history.head
    gate.audited, gate.dead_lettered = history.audited, history.dead_lettered
    # The theater before any decision is judged: a revision that moves the stops of a vehicle
    # that is out must not meet a gate that has not read the report yet.
    try:
        trust = load_verified_store(settings.trust_store, settings.admin_public_key)
    except UntrustedStoreError as err:
        log.warning("no trusted store, so no fleet or zone report counts yet: %s", err)
    else:
        theater = await read_topics(settings.kafka_bootstrap, list(THEATER))
        fold_theater(gate.state, theater, trust, utcnow(), settings.max_message_bytes)
    log.info(
        "gate preloaded %d plans and %d releases", len(gate.state.plans), len(gate.state.released)
    )


def build_app(
    settings: GateSettings, registry: CollectorRegistry | None = None, *, live: bool = True
) -> tuple[FastStream, Gate]:
    """The gate app, counting on `registry` (a fresh one when not given); `live=False` skips
    Kafka preloading and the metrics server (tests)."""
    registry = registry if registry is not None else CollectorRegistry()
    broker = make_broker(settings, "gate", registry)
    gate = Gate(settings, broker, GateMetrics.on(registry))
    broker.include_router(build_router(gate))
    app = FastStream(broker)
    if live:
        wire_live(app, settings, settings.metrics_port, registry)

        @app.on_startup  # registered after wire_live's hook, so the topics exist by now
        async def load_history() -> None:
            await preload(gate)

    return app, gate
