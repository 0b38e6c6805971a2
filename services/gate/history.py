"""What the gate knows after a restart, folded from the topics it wrote and read before: pure,
so restart semantics are tested without a broker."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.audit import AuditKind, AuditRecorded
from schemas.fleet import VehicleReported
from schemas.plans import PlanProposed, PlanReleased
from schemas.topics import Topic
from schemas.zones import ZoneDeclared
from services.common.audit import ChainHead
from services.common.broker import dead_lettered_source
from services.common.codec import DecodeError, decode
from services.common.signing import TrustStore, check_reporter
from services.gate.rules import GateState

# The gate's inputs; their dead-letter topics name the records already dead-lettered.
INPUTS = (Topic.PLANS_PROPOSED, Topic.PLANS_RELEASED, Topic.PLANS_DECIDED)
# What is read back at start: proposals, releases, the audit trail and the dead letters.
TOPICS = (
    Topic.PLANS_PROPOSED.value,
    Topic.PLANS_RELEASED.value,
    Topic.AUDIT_EVENTS.value,
    *(t.dlq for t in INPUTS),
)


@dataclass
class History:
    """The gate's state, the audit chain's head, the decision records already judged (source ->
    the kind of their last audit entry) and the records dead-lettered before."""

    state: GateState = field(default_factory=GateState)
    head: ChainHead = field(default_factory=ChainHead)
    audited: dict[str, AuditKind] = field(default_factory=dict)
    dead_lettered: set[str] = field(default_factory=set)


def fold(records: Iterable[Any], max_bytes: int) -> History:
    """Records (anything with .topic, .value, .headers) in log order, folded into a History;
    what does not decode is left for the live subscribers to dead-letter."""
    history = History()
    dead_letter_topics = {t.dlq for t in INPUTS}
    for record in records:
        if record.topic in dead_letter_topics:
            source = dead_lettered_source(record.headers)
            if source is not None:  # replayed at every start; dead-lettered once, not again
                history.dead_lettered.add(source)
            continue
        try:
            if record.topic == Topic.AUDIT_EVENTS.value:
                entry = decode(AuditRecorded, record.value, max_bytes)
                history.head = ChainHead(entry.seq + 1, entry.entry_hash)
                history.audited[entry.source] = entry.kind
            elif record.topic == Topic.PLANS_RELEASED.value:
                history.state.remember_release(decode(PlanReleased, record.value, max_bytes))
            elif record.topic == Topic.PLANS_PROPOSED.value:
                history.state.remember_plan(decode(PlanProposed, record.value, max_bytes))
        except DecodeError:
            continue
    return history


# The theater's state topics, read whole at start: which vehicles are out, which areas closed.
THEATER = (Topic.FLEET_REPORTED.value, Topic.ZONES_DECLARED.value)


def report_of(record: Any, max_bytes: int) -> VehicleReported | ZoneDeclared | None:
    """The report a state record holds; None for a tombstone (no value). DecodeError else."""
    if not record.value:
        return None
    if record.topic == Topic.FLEET_REPORTED.value:
        return decode(VehicleReported, record.value, max_bytes)
    return decode(ZoneDeclared, record.value, max_bytes)


def apply_report(
    state: GateState,
    record: Any,
    report: VehicleReported | ZoneDeclared | None,
    trust: TrustStore,
    now: datetime,
) -> str:
    """Fold one state record if a reporter's trusted key signed it: the outcome, for a metric
    (applied, tombstone, or the refusal's reason code; the planner dead-letters refusals)."""
    key = (record.key or b"").decode(errors="replace")
    if report is not None:
        refused = check_reporter(report, trust, now)
        if refused is not None:
            return refused[0]
    if record.topic == Topic.FLEET_REPORTED.value:
        vehicle = report.vehicle_id if isinstance(report, VehicleReported) else key
        state.report_vehicle(vehicle, report if isinstance(report, VehicleReported) else None)
    else:
        zone = report.zone_id if isinstance(report, ZoneDeclared) else key
        state.zones.apply(zone, report if isinstance(report, ZoneDeclared) else None)
    return "applied" if report is not None else "tombstone"


def fold_theater(
    state: GateState, records: Iterable[Any], trust: TrustStore, now: datetime, max_bytes: int
) -> None:
    """The state topics, in log order, folded into the gate's state (what does not decode or
    is not trusted is skipped: the live subscribers count it)."""
    for record in records:
        try:
            report = report_of(record, max_bytes)
        except DecodeError:
            continue
        apply_report(state, record, report, trust, now)
