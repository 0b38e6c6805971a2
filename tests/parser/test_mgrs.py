"""MGRS conversion and grid lookup."""

from __future__ import annotations

import math

import pytest

from services.common.scenario import Scenario, load_scenario
from services.parser import mgrs
from tests.paths import EVAL_DIR

EVAL_SCENARIO = EVAL_DIR / "scenario.yaml"


def test_formats_a_point_with_zone_band_and_square() -> None:
    """A WGS84 point in northern Iraq falls in 38S with a valid 100 km square."""
    assert mgrs.to_mgrs(35.45, 44.30).startswith("38S ME ")


def test_round_trip_is_within_a_metre() -> None:
    """lat/lon -> MGRS (1 m) -> lat/lon returns to the same point."""
    grid = mgrs.parse_grid(mgrs.to_mgrs(35.123456, 44.654321))
    assert grid is not None
    lat, lon = mgrs.to_latlon(grid)
    assert abs(lat - 35.123456) < 2e-5 and abs(lon - 44.654321) < 2e-5


@pytest.mark.parametrize(
    "text", ["38S ME 36474 23173", "38SME3647423173", "ME 3647 2317", "38s me 364 231"]
)
def test_spacing_precision_and_optional_zone_parse_to_the_same_place(
    text: str, tiny: Scenario
) -> None:
    """6/8/10-digit grids with or without zone and spacing all designate FOB Heron."""
    assert mgrs.locate(text, tiny) == "FOB-HERON"


def test_grid_far_from_every_location_designates_none(tiny: Scenario) -> None:
    """A grid more than 1 km from every location designates nothing."""
    assert mgrs.locate("38S ME 3800 2500", tiny) is None


def test_clock_times_are_not_taken_for_grids() -> None:
    """'AT 0600Z' and 4-digit numbers are not grid references."""
    assert mgrs.find_grids("ARRIVE AT 0600Z, ME 1200 TOMORROW") == []


def test_computed_points_agree_with_the_scenario_mgrs_strings() -> None:
    """Each location's lat/lon and its given MGRS agree within a few metres."""
    scenario = load_scenario(EVAL_SCENARIO).scenario
    for loc in scenario.locations:
        assert loc.mgrs is not None
        grid = mgrs.parse_grid(loc.mgrs)
        assert grid is not None
        east, north = mgrs.grid_to_utm(grid)
        _, east2, north2 = mgrs.utm_from_latlon(loc.lat, loc.lon, grid.zone)
        assert math.hypot(east - east2, north - north2) < 3.0, loc.id
