"""What the planner knows of the theater after a restart: the latest trusted report per vehicle
and per zone, folded from the compacted topics; a tombstone removes its key."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.fleet import VehicleStatus
from schemas.theater import Reported
from schemas.topics import Topic
from services.common.audit import ChainHead, append
from services.common.codec import encode
from services.planner.history import fold, fold_theater, theater_topics, topics
from tests.planner.helpers import NOW
from tests.planner.test_fleet import report
from tests.planner.test_zones import zone


@dataclass
class Record:
    topic: str
    key: bytes | None
    value: bytes | None


def _trusted(r: Reported) -> bool:
    return r.operator_id == "duty-officer"


def test_the_fold_keeps_the_latest_trusted_report_and_forgets_tombstoned_keys():
    fleet, zones = Topic.FLEET_REPORTED.value, Topic.ZONES_DECLARED.value
    forged = report("TRUCK-B", VehicleStatus.DOWN, minutes=9).model_copy(
        update={"operator_id": "mallory"}
    )
    records = [
        Record(fleet, b"TRUCK-A", encode(report("TRUCK-A", VehicleStatus.DOWN))),
        Record(fleet, b"TRUCK-A", encode(report("TRUCK-A", VehicleStatus.MAINTENANCE, minutes=5))),
        Record(fleet, b"TRUCK-B", encode(forged)),  # not signed by a trusted key: ignored
        Record(fleet, b"TRUCK-C", encode(report("TRUCK-C", VehicleStatus.DOWN))),
        Record(fleet, b"TRUCK-C", None),  # tombstone
        Record(fleet, b"TRUCK-D", b"{not json"),  # the consumer dead-letters it
        Record(zones, b"Z1", encode(zone("Z1"))),
        Record(zones, b"Z2", encode(zone("Z2"))),
        Record(zones, b"Z2", encode(zone("Z2", minutes=3, lifted=True))),
    ]
    state, book = fold_theater(records, 1 << 20, _trusted)
    assert {v: r.status for v, r in state.reports.items()} == {"TRUCK-A": VehicleStatus.MAINTENANCE}
    assert list(book.zones) == ["Z1"]
    assert theater_topics() == [fleet, zones]


def test_the_restart_fold_reads_the_rejections_from_the_audit_trail():
    head = ChainHead()
    entries = [
        append(head, "plan_rejected", "plan-1", NOW),
        append(head, "plan_released", "p2", NOW),
    ]
    records = [Record(Topic.AUDIT_EVENTS.value, b"audit", encode(e)) for e in entries]
    assert fold(records, 1 << 20).rejected == ["plan-1"]
    assert Topic.AUDIT_EVENTS.value in topics(True)
    assert Topic.AUDIT_EVENTS.value not in topics(False)
