"""MGRS conversion and grid lookup."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from services.common.scenario import Scenario, load_scenario
from services.parser import mgrs
from tests.paths import EVAL_DIR, OWN_EVAL_DIR

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


# The hand-written projection the `mgrs` package replaced, kept as the reference the package's
# answers are checked against (copied unchanged from services/parser/mgrs.py before the change).
_A = 6_378_137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_EP2 = _E2 / (1 - _E2)
_K0 = 0.9996
_BANDS = "CDEFGHJKLMNPQRSTUVWX"
_COLS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ROWS = "ABCDEFGHJKLMNPQRSTUV"
_ROOT = Path(__file__).resolve().parents[2]


def _meridian_arc(lat: float) -> float:
    e4, e6 = _E2**2, _E2**3
    return _A * (
        (1 - _E2 / 4 - 3 * e4 / 64 - 5 * e6 / 256) * lat
        - (3 * _E2 / 8 + 3 * e4 / 32 + 45 * e6 / 1024) * math.sin(2 * lat)
        + (15 * e4 / 256 + 45 * e6 / 1024) * math.sin(4 * lat)
        - (35 * e6 / 3072) * math.sin(6 * lat)
    )


def _old_utm(lat: float, lon: float, zone: int | None = None) -> tuple[int, float, float]:
    zone = zone or int((lon + 180) // 6) + 1
    phi, lam = math.radians(lat), math.radians(lon)
    lam0 = math.radians((zone - 1) * 6 - 180 + 3)
    n = _A / math.sqrt(1 - _E2 * math.sin(phi) ** 2)
    t, c = math.tan(phi) ** 2, _EP2 * math.cos(phi) ** 2
    a = math.cos(phi) * (lam - lam0)
    easting = (
        _K0
        * n
        * (a + (1 - t + c) * a**3 / 6 + (5 - 18 * t + t**2 + 72 * c - 58 * _EP2) * a**5 / 120)
        + 500_000.0
    )
    northing = _K0 * (
        _meridian_arc(phi)
        + n
        * math.tan(phi)
        * (
            a**2 / 2
            + (5 - t + 9 * c + 4 * c**2) * a**4 / 24
            + (61 - 58 * t + t**2 + 600 * c - 330 * _EP2) * a**6 / 720
        )
    )
    return zone, easting, northing + (10_000_000.0 if lat < 0 else 0.0)


def _old_latlon(zone: int, easting: float, northing: float, north: bool) -> tuple[float, float]:
    if not north:
        northing -= 10_000_000.0
    mu = northing / _K0 / (_A * (1 - _E2 / 4 - 3 * _E2**2 / 64 - 5 * _E2**3 / 256))
    e1 = (1 - math.sqrt(1 - _E2)) / (1 + math.sqrt(1 - _E2))
    phi1 = (
        mu
        + (3 * e1 / 2 - 27 * e1**3 / 32) * math.sin(2 * mu)
        + (21 * e1**2 / 16 - 55 * e1**4 / 32) * math.sin(4 * mu)
        + (151 * e1**3 / 96) * math.sin(6 * mu)
        + (1097 * e1**4 / 512) * math.sin(8 * mu)
    )
    n1 = _A / math.sqrt(1 - _E2 * math.sin(phi1) ** 2)
    t1, c1 = math.tan(phi1) ** 2, _EP2 * math.cos(phi1) ** 2
    r1 = _A * (1 - _E2) / (1 - _E2 * math.sin(phi1) ** 2) ** 1.5
    d = (easting - 500_000.0) / (n1 * _K0)
    lat = phi1 - (n1 * math.tan(phi1) / r1) * (
        d**2 / 2
        - (5 + 3 * t1 + 10 * c1 - 4 * c1**2 - 9 * _EP2) * d**4 / 24
        + (61 + 90 * t1 + 298 * c1 + 45 * t1**2 - 252 * _EP2 - 3 * c1**2) * d**6 / 720
    )
    lon = (
        d
        - (1 + 2 * t1 + c1) * d**3 / 6
        + (5 - 2 * c1 + 28 * t1 - 3 * c1**2 + 8 * _EP2 + 24 * t1**2) * d**5 / 120
    ) / math.cos(phi1)
    return math.degrees(lat), (zone - 1) * 6 - 180 + 3 + math.degrees(lon)


def _old_grid_to_utm(grid: mgrs.Grid) -> tuple[float, float]:
    col_index = _COLS.index(grid.square[0]) - ((grid.zone - 1) % 3) * 8 + 1
    row_index = (_ROWS.index(grid.square[1]) - (5 if grid.zone % 2 == 0 else 0)) % 20
    min_northing = _old_utm(max(-80 + 8 * _BANDS.index(grid.band), 0), 3.0, 31)[2]
    northing = row_index * 100_000 + grid.northing
    while northing < min_northing - 100_000:
        northing += 2_000_000
    return col_index * 100_000 + grid.easting, northing


def _old_to_mgrs(lat: float, lon: float) -> str:
    zone, easting, northing = _old_utm(lat, lon)
    band = _BANDS[min(int((lat + 80) // 8), len(_BANDS) - 1)]
    col = _COLS[((zone - 1) % 3) * 8 + int(easting // 100_000) - 1]
    row = _ROWS[(int(northing // 100_000) + (5 if zone % 2 == 0 else 0)) % 20]
    return f"{zone}{band} {col}{row} {int(easting % 100_000):05d} {int(northing % 100_000):05d}"


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance between two (lat, lon) a few metres apart."""
    dy = (a[0] - b[0]) * 111_320.0
    dx = (a[1] - b[1]) * 111_320.0 * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


def _scenarios() -> list[Scenario]:
    paths = [EVAL_SCENARIO, *sorted((_ROOT / "deploy" / "scenarios").glob("*.yaml"))]
    return [load_scenario(p).scenario for p in paths if p.exists()]


def _grids_in_the_data() -> dict[str, mgrs.Grid]:
    """Every grid reference in the scenarios' `mgrs:` fields and the labelled eval files."""
    found = {
        loc.mgrs: grid
        for scenario in _scenarios()
        for loc in scenario.locations
        if loc.mgrs and (grid := mgrs.parse_grid(loc.mgrs))
    }
    for path in [*sorted(EVAL_DIR.glob("*.jsonl")), *sorted(OWN_EVAL_DIR.glob("*.jsonl"))]:
        text = path.read_text()
        found.update((text[start:end], grid) for grid, start, end in mgrs.find_grids(text))
    return found


def test_the_package_converts_every_grid_of_the_data_as_the_hand_code_did() -> None:
    """Each grid of the scenarios and eval files: the same UTM point and lat/lon within 2 m."""
    grids = _grids_in_the_data()
    assert len(grids) >= 50, f"only {len(grids)} grids found: are the eval files at {EVAL_DIR}?"
    for text, grid in grids.items():
        old_utm = _old_grid_to_utm(grid)
        assert mgrs.grid_to_utm(grid) == pytest.approx(old_utm, abs=0.01), text
        old_latlon = _old_latlon(grid.zone, *old_utm, north=grid.band >= "N")
        assert _metres(mgrs.to_latlon(grid), old_latlon) < 2.0, text


def test_the_package_projects_every_location_as_the_hand_code_did() -> None:
    """Each scenario location: UTM within a metre (own zone and zone 38), MGRS text the same."""
    locations = [loc for scenario in _scenarios() for loc in scenario.locations]
    assert len(locations) >= 30
    for loc in locations:
        for zone in (None, 38) if abs(loc.lon - 45) < 3 else (None,):
            new, old = (
                mgrs.utm_from_latlon(loc.lat, loc.lon, zone),
                _old_utm(loc.lat, loc.lon, zone),
            )
            assert new[0] == old[0] and math.hypot(new[1] - old[1], new[2] - old[2]) < 1.0, loc.id
        assert mgrs.to_mgrs(loc.lat, loc.lon) == _old_to_mgrs(loc.lat, loc.lon), loc.id


def test_every_grid_of_the_data_designates_the_place_it_did() -> None:
    """locate on the eval scenario gives, for each grid, the nearest place the hand code gave."""
    scenario = load_scenario(EVAL_SCENARIO).scenario
    designated = 0
    for text, grid in _grids_in_the_data().items():
        half = grid.precision_m / 2
        east, north = (x + half for x in _old_grid_to_utm(grid))
        near = []
        for loc in scenario.locations:
            point = _old_grid_to_utm(g) if loc.mgrs and (g := mgrs.parse_grid(loc.mgrs)) else None
            loc_e, loc_n = point or _old_utm(loc.lat, loc.lon, grid.zone)[1:]
            near.append((math.hypot(loc_e - east, loc_n - north), loc.id))
        dist, nearest = min(near)
        assert mgrs.locate(grid, scenario) == (nearest if dist <= 1000 else None), text
        designated += dist <= 1000
    assert designated >= 20, "the eval files' grids should designate many of its places"


def test_a_grid_a_world_away_from_every_place_designates_none_and_raises_nothing() -> None:
    """A grid in zone 33 read against places in zone 19: the places cannot be projected on
    the grid's zone (the package raises its own error, off the globe); no place, no crash."""
    demo = load_scenario(Path(__file__).resolve().parents[2] / "deploy/scenarios/demo.yaml")
    assert mgrs.locate("33TWN 12345 67890", demo.scenario) is None
    with pytest.raises(ValueError, match="cannot be projected on zone 33"):
        mgrs.utm_from_latlon(41.1, -71.8, 33)
