"""The fleet and zone reports: shapes are checked, and a signature covers every field it should."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from schemas.fleet import VehicleReported, VehicleStatus
from schemas.theater import Position
from schemas.zones import Circle, ZoneDeclared

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _zone(**extra: object) -> ZoneDeclared:
    fields: dict[str, object] = {
        "message_id": "m",
        "occurred_at": NOW,
        "zone_id": "Z1",
        "declared_at": NOW,
        "operator_id": "duty-officer",
        "role": "approver",
        **extra,
    }
    return ZoneDeclared.model_validate(fields)


def test_a_zone_is_exactly_one_shape_unless_it_is_lifted() -> None:
    circle = Circle(center=Position(lat=1, lon=2), radius_m=500)
    square = tuple(Position(lat=a, lon=b) for a, b in ((0, 0), (0, 1), (1, 1), (1, 0)))
    assert _zone(circle=circle).circle == circle
    assert _zone(polygon=square).polygon == square
    assert _zone(lifted=True).lifted
    with pytest.raises(ValidationError, match="exactly one"):
        _zone()
    with pytest.raises(ValidationError, match="exactly one"):
        _zone(circle=circle, polygon=square)
    with pytest.raises(ValidationError, match="3 corners"):
        _zone(polygon=square[:2])
    with pytest.raises(ValidationError, match="after valid_from"):
        _zone(circle=circle, valid_from=NOW, valid_until=NOW - timedelta(hours=1))


def test_the_signed_payload_covers_the_report_and_not_the_envelope() -> None:
    report = VehicleReported(
        message_id="m",
        occurred_at=NOW,
        vehicle_id="V1",
        status=VehicleStatus.DOWN,
        reported_at=NOW,
        operator_id="duty-officer",
        role="approver",
        reason="axle",
    )
    payload = report.signed_payload()
    assert payload["type"] == "qm.vehicle-report.v1"
    assert payload["status"] == "down" and payload["reason"] == "axle"
    assert not {"message_id", "occurred_at", "signature"} & set(payload)
    other = report.model_copy(update={"message_id": "n", "signature": "x"})
    assert other.signed_payload() == payload
    assert report.model_copy(update={"status": VehicleStatus.AVAILABLE}).signed_payload() != payload


def test_a_position_time_needs_a_position() -> None:
    with pytest.raises(ValidationError, match="position_at without a position"):
        VehicleReported(
            message_id="m",
            occurred_at=NOW,
            vehicle_id="V1",
            status=VehicleStatus.AVAILABLE,
            reported_at=NOW,
            position_at=NOW,
            operator_id="duty-officer",
            role="approver",
        )
