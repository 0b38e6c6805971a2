"""Builds the release gate's FastStream app from settings."""

from __future__ import annotations

import logging

from faststream import FastStream
from prometheus_client import CollectorRegistry

from schemas.audit import AuditRecorded
from schemas.plans import PlanProposed, PlanReleased
from schemas.topics import Topic
from services.common.audit import ChainHead
from services.common.broker import dead_lettered_source, make_broker
from services.common.codec import DecodeError, decode
from services.common.kafka import read_topics
from services.common.lifecycle import wire_live
from services.gate.handlers import Gate, build_router
from services.gate.settings import GateSettings

log = logging.getLogger("qm.gate")


async def preload(gate: Gate) -> None:
    """Read past proposals and releases before consuming decisions, so none is re-released."""
    settings = gate.settings
    inputs = (Topic.PLANS_PROPOSED, Topic.PLANS_RELEASED, Topic.PLANS_DECIDED)
    topics = [Topic.PLANS_PROPOSED.value, Topic.PLANS_RELEASED.value, Topic.AUDIT_EVENTS.value]
    records = await read_topics(settings.kafka_bootstrap, topics + [t.dlq for t in inputs])
    dead_letter_topics = {t.dlq for t in inputs}
    for record in records:
        if record.topic in dead_letter_topics:
            source = dead_lettered_source(record.headers)
            if source is not None:  # replayed at every start; dead-lettered once, not again
                gate.dead_lettered.add(source)
            continue
        try:
            if record.topic == Topic.AUDIT_EVENTS.value:
                entry = decode(AuditRecorded, record.value, settings.max_message_bytes)
                gate.head = ChainHead(entry.seq + 1, entry.entry_hash)
                gate.audited[entry.source] = entry.kind
            elif record.topic == Topic.PLANS_RELEASED.value:
                gate.state.remember_release(
                    decode(PlanReleased, record.value, settings.max_message_bytes)
                )
            else:
                plan = decode(PlanProposed, record.value, settings.max_message_bytes)
                gate.state.remember_plan(plan)
        except DecodeError:
            continue  # the live subscriber dead-letters it
    log.info(
        "gate preloaded %d plans and %d releases", len(gate.state.plans), len(gate.state.released)
    )


def build_app(
    settings: GateSettings, registry: CollectorRegistry | None = None, *, live: bool = True
) -> tuple[FastStream, Gate]:
    """The gate app; `live=False` skips Kafka preloading and the metrics server (tests)."""
    broker = make_broker(settings, "gate", registry)
    gate = Gate(settings, broker)
    broker.include_router(build_router(gate))
    app = FastStream(broker)
    if live:
        wire_live(app, settings, settings.metrics_port, registry)

        @app.on_startup  # registered after wire_live's hook, so the topics exist by now
        async def load_history() -> None:
            await preload(gate)

    return app, gate
