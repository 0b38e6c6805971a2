"""Times and points as a duty officer types them for qm fleet and qm zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import typer

from services.cli.theater import point, when


def test_a_time_is_iso_with_a_zone_or_an_offset_from_now():
    assert when(None, "--until") is None
    assert when("2026-12-07T06:00Z", "--until") == datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    soon = when("+90m", "--until")
    assert soon is not None
    expected = datetime.now(UTC) + timedelta(minutes=90)
    assert abs((soon - expected).total_seconds()) < 61
    assert when("+1d", "--until") > when("+23h", "--until")  # type: ignore[operator]


@pytest.mark.parametrize("text", ["tomorrow", "2026-12-07T06:00", "+5x"])
def test_a_time_without_a_zone_or_unreadable_is_refused(text: str):
    with pytest.raises(typer.Exit):
        when(text, "--until")


def test_a_point_is_lat_comma_lon():
    at = point("41.25,-71.85", "--at")
    assert (at.lat, at.lon) == (41.25, -71.85)
    for bad in ("41.25", "north,west", "95,10"):
        with pytest.raises((typer.Exit, ValueError)):
            point(bad, "--at")
