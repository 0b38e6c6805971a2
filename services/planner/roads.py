"""Road distances from an OSRM table service, falling back to great circle when it fails."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.planner.problem import GreatCircleMatrix, MatrixProvider

log = logging.getLogger("qm.planner")

Point = tuple[float, float]


@dataclass(frozen=True)
class OsrmTableMatrix:
    """Distances from `GET {base_url}/table/v1/driving/{lon,lat;…}?annotations=distance`.

    One instance serves one plan: every distance it returned is remembered, so verify re-checks
    the plan against the very distances it was solved with, even if the service fails between.
    """

    base_url: str
    fallback: MatrixProvider = field(default_factory=GreatCircleMatrix)
    timeout_s: float = 10.0
    _known: dict[tuple[Point, Point], int] = field(default_factory=dict, compare=False, repr=False)

    def matrix(self, points: Sequence[Point]) -> list[list[int]]:
        """Square matrix of road distances in whole metres."""
        if not all((a, b) in self._known for a in points for b in points):
            self._remember(points, self._fetch(points))
        return [[self._known[a, b] for b in points] for a in points]

    def _remember(self, points: Sequence[Point], rows: list[list[int]]) -> None:
        for a, row in zip(points, rows, strict=True):
            for b, metres in zip(points, row, strict=True):
                self._known[a, b] = metres

    def _fetch(self, points: Sequence[Point]) -> list[list[int]]:
        try:
            table = self._table(points)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as err:
            log.warning(
                "road matrix from %s failed (%s); using great-circle distances", self.base_url, err
            )
            return self.fallback.matrix(points)
        out = [[0 if m is None else m for m in row] for row in table]
        holes = [(i, j) for i, row in enumerate(table) for j, m in enumerate(row) if m is None]
        if holes:
            # OSRM gives null for a pair it cannot route; only those pairs are estimated.
            log.warning("road matrix from %s has unroutable pairs; estimating them", self.base_url)
            estimate = self.fallback.matrix(points)
            for i, j in holes:
                out[i][j] = estimate[i][j]
        return out

    def _table(self, points: Sequence[Point]) -> list[list[int | None]]:
        coords = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in points)
        url = f"{self.base_url.rstrip('/')}/table/v1/driving/{coords}"
        response = httpx.get(url, params={"annotations": "distance"}, timeout=self.timeout_s)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if body.get("code") != "Ok":
            raise ValueError(f"service answered {body.get('code')}: {body.get('message', '')}")
        rows = body["distances"]
        if len(rows) != len(points) or any(len(row) != len(points) for row in rows):
            raise ValueError(f"a {len(rows)}-row table for {len(points)} points")
        return [[None if m is None else round(m) for m in row] for row in rows]


def matrix_for(url: str, road_factor: float) -> MatrixProvider:
    """The road matrix a plan uses: OSRM at url, or great circle times the road factor."""
    great_circle = GreatCircleMatrix(road_factor)
    return OsrmTableMatrix(url, fallback=great_circle) if url else great_circle
