"""MGRS grid references <-> WGS84 lat/lon (UTM zones, 100 km square letters) and grid lookup."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from services.common.scenario import Scenario

_A = 6_378_137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_EP2 = _E2 / (1 - _E2)
_K0 = 0.9996
_FALSE_E = 500_000.0
_COLS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ROWS = "ABCDEFGHJKLMNPQRSTUV"
_BANDS = "CDEFGHJKLMNPQRSTUVWX"
DEFAULT_ZONE = (38, "S")

GRID_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:(?P<zone>\d{1,2})\s*(?P<band>[C-HJ-NP-X])\s*)?"
    r"(?P<sq>[A-HJ-NP-Z]\s*[A-HJ-NP-V])\s*(?P<digits>\d+(?:\s+\d+)?)(?![\dA-Za-z])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Grid:
    """A parsed MGRS reference: zone, band, 100 km square and metres within it."""

    zone: int
    band: str
    square: str
    easting: float
    northing: float
    precision_m: float


def _meridian_arc(lat: float) -> float:
    e4, e6 = _E2**2, _E2**3
    return _A * (
        (1 - _E2 / 4 - 3 * e4 / 64 - 5 * e6 / 256) * lat
        - (3 * _E2 / 8 + 3 * e4 / 32 + 45 * e6 / 1024) * math.sin(2 * lat)
        + (15 * e4 / 256 + 45 * e6 / 1024) * math.sin(4 * lat)
        - (35 * e6 / 3072) * math.sin(6 * lat)
    )


def utm_from_latlon(lat: float, lon: float, zone: int | None = None) -> tuple[int, float, float]:
    """Return (zone, easting, northing) of a WGS84 point (northern or southern hemisphere)."""
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
        + _FALSE_E
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
    if lat < 0:
        northing += 10_000_000.0
    return zone, easting, northing


def latlon_from_utm(
    zone: int, easting: float, northing: float, north: bool = True
) -> tuple[float, float]:
    """Return (lat, lon) of a UTM coordinate."""
    if not north:
        northing -= 10_000_000.0
    m = northing / _K0
    mu = m / (_A * (1 - _E2 / 4 - 3 * _E2**2 / 64 - 5 * _E2**3 / 256))
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
    d = (easting - _FALSE_E) / (n1 * _K0)
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


def _square(zone: int, easting: float, northing: float) -> str:
    col = _COLS[((zone - 1) % 3) * 8 + int(easting // 100_000) - 1]
    row = _ROWS[(int(northing // 100_000) + (5 if zone % 2 == 0 else 0)) % 20]
    return col + row


def to_mgrs(lat: float, lon: float, digits: int = 5) -> str:
    """Format a WGS84 point as an MGRS string like '38S LE 98411 19386'."""
    zone, easting, northing = utm_from_latlon(lat, lon)
    band = _BANDS[min(int((lat + 80) // 8), len(_BANDS) - 1)]
    scale = 10 ** (5 - digits)
    e = int(easting % 100_000) // scale
    n = int(northing % 100_000) // scale
    return f"{zone}{band} {_square(zone, easting, northing)} {e:0{digits}d} {n:0{digits}d}"


def _split_digits(raw: str) -> tuple[str, str] | None:
    parts = raw.split()
    if len(parts) == 2 and len(parts[0]) == len(parts[1]):
        east, north = parts
    else:
        joined = "".join(parts)
        if len(joined) % 2:
            return None
        east, north = joined[: len(joined) // 2], joined[len(joined) // 2 :]
    if not 3 <= len(east) <= 5:
        return None
    return east, north


def parse_grid(text: str, default: tuple[int, str] = DEFAULT_ZONE) -> Grid | None:
    """Parse one MGRS reference (6, 8 or 10 digits; zone/band optional, free spacing)."""
    match = GRID_RE.fullmatch(text.strip())
    return _grid_from_match(match, default) if match else None


def find_grids(text: str, default: tuple[int, str] = DEFAULT_ZONE) -> list[tuple[Grid, int, int]]:
    """Every MGRS reference in free text, with its span."""
    found = []
    for match in GRID_RE.finditer(text):
        grid = _grid_from_match(match, default)
        if grid is not None:
            found.append((grid, match.start(), match.end()))
    return found


def _grid_from_match(match: re.Match[str], default: tuple[int, str]) -> Grid | None:
    split = _split_digits(match["digits"])
    if split is None:
        return None
    zone = int(match["zone"]) if match["zone"] else default[0]
    band = (match["band"] or default[1]).upper()
    square = re.sub(r"\s", "", match["sq"]).upper()
    first_col = ((zone - 1) % 3) * 8
    if not 1 <= zone <= 60 or square[0] not in _COLS[first_col : first_col + 8]:
        return None
    east, north = split
    scale = 10 ** (5 - len(east))
    return Grid(zone, band, square, int(east) * scale, int(north) * scale, float(scale))


def grid_to_utm(grid: Grid) -> tuple[float, float]:
    """Full UTM (easting, northing) of a grid's square centre-of-precision corner."""
    col_index = _COLS.index(grid.square[0]) - ((grid.zone - 1) % 3) * 8 + 1
    row_index = (_ROWS.index(grid.square[1]) - (5 if grid.zone % 2 == 0 else 0)) % 20
    easting = col_index * 100_000 + grid.easting
    band_floor = -80 + 8 * _BANDS.index(grid.band)
    min_northing = _band_min_northing(band_floor)
    northing = row_index * 100_000 + grid.northing
    while northing < min_northing - 100_000:
        northing += 2_000_000
    return easting, northing


@lru_cache(maxsize=64)
def _band_min_northing(band_floor_lat: int) -> float:
    # The band's southern edge on the central meridian fixes which 2000 km row cycle applies.
    return utm_from_latlon(max(band_floor_lat, 0), 3.0, 31)[2]


def to_latlon(grid: Grid) -> tuple[float, float]:
    """WGS84 (lat, lon) of a grid reference (its south-west corner at its precision)."""
    easting, northing = grid_to_utm(grid)
    return latlon_from_utm(grid.zone, easting, northing, north=grid.band >= "N")


@lru_cache(maxsize=4096)
def _location_point(lat: float, lon: float, mgrs: str | None, zone: int) -> tuple[float, float]:
    # Pure and asked for every location at every grid read: computed once per location and zone.
    if mgrs:
        parsed = parse_grid(mgrs)
        if parsed is not None and parsed.zone == zone:
            return grid_to_utm(parsed)
    _, easting, northing = utm_from_latlon(lat, lon, zone)
    return easting, northing


def locate(grid: str | Grid, scenario: Scenario, within_m: float = 1000.0) -> str | None:
    """Id of the nearest location whose MGRS point lies within `within_m` of the grid, or None."""
    parsed = parse_grid(grid) if isinstance(grid, str) else grid
    if parsed is None:
        return None
    half = parsed.precision_m / 2
    east, north = grid_to_utm(parsed)
    east, north = east + half, north + half
    best: tuple[float, str] | None = None
    for loc in scenario.locations:
        loc_e, loc_n = _location_point(loc.lat, loc.lon, loc.mgrs, parsed.zone)
        dist = math.hypot(loc_e - east, loc_n - north)
        if dist <= within_m and (best is None or dist < best[0]):
            best = (dist, loc.id)
    return best[1] if best else None
