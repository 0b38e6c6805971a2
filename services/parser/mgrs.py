"""MGRS grid references <-> WGS84 lat/lon (UTM zones, 100 km square letters) and grid lookup."""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache

import mgrs as _mgrs  # type: ignore[import-untyped]  # ships no type hints

from services.common.scenario import Scenario

# The package's converter holds no state: one serves every call.
_MGRS = _mgrs.MGRS()
# What the package raises for a point it cannot convert (a private module: read, not guessed).
MGRSError: type[Exception] = _mgrs._native.MGRSError
# Zone 2 (174°W to 168°W) has none of the standard's exceptions and is clear of the antimeridian.
_PLAIN_ZONE = 2
# Its warning that a grid lies a little outside its band: such grids are read as before, quietly.
warnings.filterwarnings("ignore", 'Warning in "Convert_MGRS_To_UTM"', RuntimeWarning)
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


def _meridian(zone: int) -> float:
    return (zone - 1) * 6 - 180 + 3.0


def utm_from_latlon(lat: float, lon: float, zone: int | None = None) -> tuple[int, float, float]:
    """Return (zone, easting, northing) of a WGS84 point (northern or southern hemisphere).

    `zone` projects on another zone's meridian; the point must lie within 3° of it. Eastings and
    northings are the centre of the metre holding the point (the package works in metres).
    """
    zone = zone or int((lon + 180) // 6) + 1
    # The package chooses the zone itself. A transverse Mercator depends on the longitude only
    # through its distance from the meridian, so the point moves to a plain zone, keeping that.
    shifted = lon - _meridian(zone) + _meridian(_PLAIN_ZONE)
    try:
        got, _, easting, northing = _MGRS.MGRSToUTM(_MGRS.toMGRS(lat, shifted))
    except MGRSError as err:  # a point a world away from the zone lands off the globe
        raise ValueError(f"({lat}, {lon}) cannot be projected on zone {zone}: {err}") from None
    if int(got) != _PLAIN_ZONE:
        raise ValueError(
            f"({lat}, {lon}) is more than 3° from zone {zone}'s meridian: project it in its own"
            " zone (zone=None)"
        )
    return zone, float(easting), float(northing)


def latlon_from_utm(
    zone: int, easting: float, northing: float, north: bool = True
) -> tuple[float, float]:
    """Return (lat, lon) of a UTM coordinate (the centre of the metre holding it)."""
    grid = _MGRS.UTMToMGRS(zone, "N" if north else "S", easting, northing)
    lat, lon = _MGRS.toLatLon(grid)
    return float(lat), float(lon)


def to_mgrs(lat: float, lon: float, digits: int = 5) -> str:
    """Format a WGS84 point as an MGRS string like '38S LE 98411 19386' (digits truncated)."""
    compact = str(_MGRS.toMGRS(lat, lon, MGRSPrecision=digits))
    head, east, north = compact[: -2 * digits], compact[-2 * digits : -digits], compact[-digits:]
    return f"{head[:-2]} {head[-2:]} {east} {north}"


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
    """Full UTM (easting, northing) of a grid's south-west corner at its precision.

    Raises ValueError when the square's row does not lie in the grid's latitude band.
    """
    east, north = int(grid.easting), int(grid.northing)
    compact = f"{grid.zone:02d}{grid.band}{grid.square}{east:05d}{north:05d}"
    # The package picks the 2000 km cycle of the row letters from the band and checks the two
    # agree; it answers the centre of the metre, half a metre north-east of the corner.
    try:
        _, _, easting, northing = _MGRS.MGRSToUTM(compact)
    except _mgrs.core.MGRSError as exc:
        raise ValueError(f"{compact}: square {grid.square} is not in band {grid.band}") from exc
    return float(easting) - 0.5, float(northing) - 0.5


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
    try:
        east, north = grid_to_utm(parsed)
    except ValueError:
        return None  # a square far outside its band designates no place of the theater
    east, north = east + half, north + half
    best: tuple[float, str] | None = None
    for loc in scenario.locations:
        try:
            loc_e, loc_n = _location_point(loc.lat, loc.lon, loc.mgrs, parsed.zone)
        except ValueError:
            continue  # beyond the grid's zone (3° from its meridian): the package won't project it
        dist = math.hypot(loc_e - east, loc_n - north)
        if dist <= within_m and (best is None or dist < best[0]):
            best = (dist, loc.id)
    return best[1] if best else None
