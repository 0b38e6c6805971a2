"""Road distances from an OSRM or Valhalla matrix service, falling back to great circle."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from services.planner.problem import GreatCircleMatrix, MatrixKind, MatrixProvider

log = logging.getLogger("qm.planner")

Point = tuple[float, float]
# Areas a road service is asked to route around: polygon rings of (lat, lon) corners.
Rings = tuple[tuple[Point, ...], ...]
# Told (provider, reason) whenever great circle stands in for the service: "failed" when the
# whole matrix is estimated, "unroutable" when only the pairs it could not route are.
FallbackHook = Callable[[str, str], None]


@dataclass(frozen=True)
class RoadMatrix:
    """A road matrix service; subclasses say how to ask it (`_table`).

    One instance serves one plan: every distance it returned is remembered, so verify re-checks
    the plan against the very distances it was solved with, even if the service fails between.
    """

    kind: ClassVar[MatrixKind]

    base_url: str
    fallback: MatrixProvider = field(default_factory=GreatCircleMatrix)
    timeout_s: float = 10.0
    on_fallback: FallbackHook | None = field(default=None, compare=False, repr=False)
    # Closed areas to route around, where the service's API has a way to say so.
    avoid: Rings = ()
    _known: dict[tuple[Point, Point], int] = field(default_factory=dict, compare=False, repr=False)

    def matrix(self, points: Sequence[Point]) -> list[list[int]]:
        """Square matrix of road distances in whole metres."""
        if not all((a, b) in self._known for a in points for b in points):
            self._remember(points, self._fetch(points))
        return [[self._known[a, b] for b in points] for a in points]

    def _table(self, points: Sequence[Point]) -> list[list[int | None]]:
        """The service's square table in metres, None for a pair it cannot route."""
        raise NotImplementedError

    def _remember(self, points: Sequence[Point], rows: list[list[int]]) -> None:
        for a, row in zip(points, rows, strict=True):
            for b, metres in zip(points, row, strict=True):
                self._known[a, b] = metres

    def _fetch(self, points: Sequence[Point]) -> list[list[int]]:
        try:
            table = _square(self._table(points), len(points))
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as err:
            log.warning(
                "road matrix from %s failed (%s); using great-circle distances", self.base_url, err
            )
            self._fell_back("failed")
            return self.fallback.matrix(points)
        out = [[0 if m is None else m for m in row] for row in table]
        holes = [(i, j) for i, row in enumerate(table) for j, m in enumerate(row) if m is None]
        if holes:
            # The service gives null for a pair it cannot route; only those pairs are estimated.
            log.warning("road matrix from %s has unroutable pairs; estimating them", self.base_url)
            self._fell_back("unroutable")
            estimate = self.fallback.matrix(points)
            for i, j in holes:
                out[i][j] = estimate[i][j]
        return out

    def _fell_back(self, reason: str) -> None:
        if self.on_fallback is not None:
            self.on_fallback(self.kind, reason)

    def _url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path}"


def _square(rows: list[list[int | None]], n: int) -> list[list[int | None]]:
    if len(rows) != n or any(len(row) != n for row in rows):
        raise ValueError(f"a {len(rows)}-row table for {n} points")
    return rows


@dataclass(frozen=True)
class OsrmTableMatrix(RoadMatrix):
    """Distances from OSRM: `GET {base_url}/table/v1/driving/{lon,lat;…}?annotations=distance`.

    OSRM has no way to avoid an area at query time (its `exclude` takes road classes set when
    the graph was built): `avoid` is not sent, and the straight-leg check stands alone.
    """

    kind: ClassVar[MatrixKind] = "osrm"

    def _table(self, points: Sequence[Point]) -> list[list[int | None]]:
        coords = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in points)
        response = httpx.get(
            self._url(f"table/v1/driving/{coords}"),
            params={"annotations": "distance"},
            timeout=self.timeout_s,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if body.get("code") != "Ok":
            raise ValueError(f"service answered {body.get('code')}: {body.get('message', '')}")
        return [[None if m is None else round(m) for m in row] for row in body["distances"]]


@dataclass(frozen=True)
class ValhallaMatrix(RoadMatrix):
    """Distances from Valhalla: `POST {base_url}/sources_to_targets`, every point both ways."""

    kind: ClassVar[MatrixKind] = "valhalla"

    def _table(self, points: Sequence[Point]) -> list[list[int | None]]:
        where = [{"lat": lat, "lon": lon} for lat, lon in points]
        request: dict[str, Any] = {
            "sources": where,
            "targets": where,
            "costing": "auto",
            "units": "kilometers",
        }
        if self.avoid:
            # Valhalla's exclude_polygons: rings of [lon, lat], no road through them is used.
            request["exclude_polygons"] = [[[lon, lat] for lat, lon in r] for r in self.avoid]
        response = httpx.post(self._url("sources_to_targets"), json=request, timeout=self.timeout_s)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return [
            [None if cell["distance"] is None else round(cell["distance"] * 1000) for cell in row]
            for row in body["sources_to_targets"]
        ]


PROVIDERS: dict[MatrixKind, type[RoadMatrix]] = {
    "osrm": OsrmTableMatrix,
    "valhalla": ValhallaMatrix,
}


def matrix_for(
    url: str,
    road_factor: float,
    kind: MatrixKind = "osrm",
    on_fallback: FallbackHook | None = None,
    avoid: Rings = (),
) -> MatrixProvider:
    """The road matrix a plan uses: the kind's service at url, or great circle × road factor;
    `avoid` goes to a service that can route around areas."""
    great_circle = GreatCircleMatrix(road_factor)
    if not url:
        return great_circle
    return PROVIDERS[kind](url, fallback=great_circle, on_fallback=on_fallback, avoid=avoid)
