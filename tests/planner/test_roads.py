"""Road distances from OSRM and Valhalla matrix services on tiny local servers; the fallback."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any, get_args
from urllib.parse import parse_qs, urlsplit

import pytest
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from services.common.scenario import LoadedScenario
from services.planner.handlers import Planner
from services.planner.metrics import PlannerMetrics
from services.planner.pipeline import plan_batch
from services.planner.problem import GreatCircleMatrix, MatrixKind, MatrixProvider, PlanParams
from services.planner.roads import PROVIDERS, OsrmTableMatrix, ValhallaMatrix, matrix_for
from services.planner.settings import PlannerSettings
from tests.planner.conftest import OrderFactory
from tests.planner.helpers import FAST, NOW, scenario_with, vehicle

POINTS = [(35.0, 44.0), (35.1, 44.0), (35.0, 44.1)]


class _Osrm(BaseHTTPRequestHandler):
    """Answers like OSRM: a Manhattan distance of 100 km per degree, or what `answer` says."""

    answer: tuple[int, Any] | None = None
    requests: list[str] = []  # noqa: RUF012  # shared on purpose: the test reads what was asked

    def do_GET(self) -> None:
        self.requests.append(self.path)
        status, body = self.answer or (200, self._table())
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _table(self) -> dict[str, Any]:
        url = urlsplit(self.path)
        if parse_qs(url.query).get("annotations") != ["distance"]:
            return {"code": "InvalidQuery", "message": "no annotations=distance"}
        coords = url.path.removeprefix("/table/v1/driving/").split(";")
        lonlat = [tuple(map(float, c.split(","))) for c in coords]
        rows = [
            [round((abs(a[0] - b[0]) + abs(a[1] - b[1])) * 100_000) for b in lonlat] for a in lonlat
        ]
        return {"code": "Ok", "distances": rows}

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads requests, not a log."""


class _Valhalla(BaseHTTPRequestHandler):
    """Answers like Valhalla's sources_to_targets: the same Manhattan distances, in km."""

    answer: tuple[int, Any] | None = None
    requests: list[tuple[str, dict[str, Any]]] = []  # noqa: RUF012  # read by the test

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append((self.path, request))
        status, body = self.answer or (200, self._matrix(request))
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    @staticmethod
    def _matrix(request: dict[str, Any]) -> dict[str, Any]:
        rows = [
            [
                {
                    "from_index": i,
                    "to_index": j,
                    "distance": round(
                        abs(a["lat"] - b["lat"]) * 100 + abs(a["lon"] - b["lon"]) * 100, 3
                    ),
                    "time": 60,
                }
                for j, b in enumerate(request["targets"])
            ]
            for i, a in enumerate(request["sources"])
        ]
        return {"sources_to_targets": rows, "units": "kilometers"}

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads requests, not a log."""


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def osrm() -> Iterator[str]:
    """A local OSRM look-alike; its base URL."""
    _Osrm.answer, _Osrm.requests = None, []
    yield from _serve(_Osrm)


@pytest.fixture
def valhalla() -> Iterator[str]:
    """A local Valhalla look-alike; its base URL."""
    _Valhalla.answer, _Valhalla.requests = None, []
    yield from _serve(_Valhalla)


def test_the_table_comes_from_the_service_in_lon_lat_order(osrm: str) -> None:
    """Coordinates go as lon,lat; the distances are the service's, not great circle."""
    got = OsrmTableMatrix(osrm + "/").matrix(POINTS)
    assert got == [[0, 10_000, 10_000], [10_000, 0, 20_000], [10_000, 20_000, 0]]
    (path,) = _Osrm.requests
    assert path.startswith("/table/v1/driving/44.000000,35.000000;44.000000,35.100000;")
    assert path.endswith("?annotations=distance")


def test_distances_are_remembered_so_a_re_check_sees_the_same_roads(osrm: str) -> None:
    """A subset of points already fetched is answered without asking again."""
    matrix = OsrmTableMatrix(osrm)
    matrix.matrix(POINTS)
    _Osrm.answer = (500, {})
    assert matrix.matrix([POINTS[2], POINTS[0]]) == [[0, 10_000], [10_000, 0]]
    assert len(_Osrm.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        (500, {"message": "down"}),
        (200, {"code": "NoTable"}),
        (200, {"code": "Ok", "distances": [[0]]}),
    ],
)
def test_a_failing_service_falls_back_to_great_circle_with_a_warning(
    osrm: str, answer: tuple[int, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Server errors, error codes and malformed tables give the great-circle matrix."""
    _Osrm.answer = answer
    _falls_back_whole(OsrmTableMatrix(osrm, fallback=GreatCircleMatrix(1.3)), caplog)


def _falls_back_whole(provider: MatrixProvider, caplog: pytest.LogCaptureFixture) -> None:
    """The provider answers with the great-circle matrix and warns that it did."""
    with caplog.at_level(logging.WARNING, logger="qm.planner"):
        got = provider.matrix(POINTS)
    assert got == GreatCircleMatrix(1.3).matrix(POINTS)
    assert "using great-circle distances" in caplog.text


def test_an_unreachable_service_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listening (a closed port) is a failure like any other."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Osrm)
    port = server.server_address[1]
    server.server_close()
    with caplog.at_level(logging.WARNING, logger="qm.planner"):
        got = OsrmTableMatrix(f"http://127.0.0.1:{port}", timeout_s=2).matrix(POINTS)
    assert got == GreatCircleMatrix().matrix(POINTS)
    assert "failed" in caplog.text


def test_unroutable_pairs_alone_are_estimated(osrm: str) -> None:
    """OSRM's null for one pair is filled from great circle; the rest stay the service's."""
    _Osrm.answer = (
        200,
        {"code": "Ok", "distances": [[0, 1500, None], [1500, 0, 700], [2000, 700, 0]]},
    )
    got = OsrmTableMatrix(osrm, fallback=GreatCircleMatrix(1.3)).matrix(POINTS)
    assert got == [
        [0, 1500, GreatCircleMatrix(1.3).matrix(POINTS)[0][2]],
        [1500, 0, 700],
        [2000, 700, 0],
    ]


def test_the_setting_selects_the_provider(osrm: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """QM_PLANNER_MATRIX_URL picks OSRM; empty keeps great circle with the road factor."""
    monkeypatch.setenv("QM_PLANNER_MATRIX_URL", osrm)
    assert PlannerSettings().plan_params().matrix_url == osrm
    assert isinstance(matrix_for(osrm, 1.3), OsrmTableMatrix)
    assert matrix_for("", 1.7) == GreatCircleMatrix(1.7)
    with pytest.raises(ValueError, match="http"):
        PlanParams(matrix_url="osrm:5000")


def test_the_kind_setting_selects_valhalla_and_refuses_unknown_kinds(
    valhalla: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QM_PLANNER_MATRIX_KIND=valhalla reaches the provider; another kind is refused by name."""
    monkeypatch.setenv("QM_PLANNER_MATRIX_URL", valhalla)
    monkeypatch.setenv("QM_PLANNER_MATRIX_KIND", "valhalla")
    params = PlannerSettings().plan_params()
    assert params.matrix_kind == "valhalla"
    assert isinstance(matrix_for(params.matrix_url, 1.3, params.matrix_kind), ValhallaMatrix)
    assert matrix_for("", 1.3, "valhalla") == GreatCircleMatrix(1.3)
    assert set(PROVIDERS) == set(get_args(MatrixKind))
    monkeypatch.setenv("QM_PLANNER_MATRIX_KIND", "graphhopper")
    with pytest.raises(ValidationError, match="matrix_kind"):
        PlannerSettings()
    with pytest.raises(ValueError, match="matrix_kind must be osrm or valhalla"):
        PlanParams(matrix_url=valhalla, matrix_kind="graphhopper")  # type: ignore[arg-type]


def test_the_kind_joins_the_plan_identity_only_when_not_osrm() -> None:
    """Plans on OSRM or on great circle keep their ids; Valhalla's distances make another plan."""
    url = "http://roads:8002"
    assert (
        PlanParams(matrix_url=url).as_dict()
        == PlanParams(matrix_url=url, matrix_kind="osrm").as_dict()
    )
    assert "matrix_kind" not in PlanParams(matrix_kind="valhalla").as_dict()
    assert PlanParams(matrix_url=url, matrix_kind="valhalla").as_dict()["matrix_kind"] == "valhalla"


def test_valhalla_is_asked_every_point_both_ways_in_kilometres(valhalla: str) -> None:
    """One POST with lat/lon sources and targets; kilometres come back as whole metres."""
    got = ValhallaMatrix(valhalla + "/").matrix(POINTS)
    assert got == [[0, 10_000, 10_000], [10_000, 0, 20_000], [10_000, 20_000, 0]]
    ((path, request),) = _Valhalla.requests
    assert path == "/sources_to_targets"
    where = [{"lat": lat, "lon": lon} for lat, lon in POINTS]
    assert request == {
        "sources": where,
        "targets": where,
        "costing": "auto",
        "units": "kilometers",
    }


def test_valhalla_unroutable_pairs_alone_are_estimated(
    valhalla: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Valhalla's null distance for one pair is filled from great circle; the rest stay its own."""

    def cell(km: float | None) -> dict[str, Any]:
        return {"distance": km, "time": None if km is None else 60}

    rows: list[list[float | None]] = [[0, 1.5, None], [1.5, 0, 0.7], [2.0, 0.7, 0]]
    _Valhalla.answer = (200, {"sources_to_targets": [[cell(km) for km in row] for row in rows]})
    with caplog.at_level(logging.WARNING, logger="qm.planner"):
        got = ValhallaMatrix(valhalla, fallback=GreatCircleMatrix(1.3)).matrix(POINTS)
    assert got == [
        [0, 1500, GreatCircleMatrix(1.3).matrix(POINTS)[0][2]],
        [1500, 0, 700],
        [2000, 700, 0],
    ]
    assert "unroutable pairs" in caplog.text


@pytest.mark.parametrize(
    "answer",
    [
        (400, {"error_code": 171, "error": "No suitable edges near location"}),
        (200, {"units": "kilometers"}),
        (200, {"sources_to_targets": [[{"distance": 0.0, "time": 0}]]}),
        (200, {"sources_to_targets": [[0, 1, 2], [1, 0, 2], [2, 1, 0]]}),
    ],
)
def test_a_failing_valhalla_falls_back_to_great_circle_with_a_warning(
    valhalla: str, answer: tuple[int, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Errors, a missing matrix, a wrong-sized one and bare numbers give the great-circle matrix."""
    _Valhalla.answer = answer
    _falls_back_whole(ValhallaMatrix(valhalla, fallback=GreatCircleMatrix(1.3)), caplog)


@pytest.mark.parametrize("kind", get_args(MatrixKind))
def test_a_plan_is_solved_and_verified_on_the_service_distances(
    kind: MatrixKind, order: OrderFactory, request: pytest.FixtureRequest
) -> None:
    """The route's declared distance is the sum of the service's legs, and verify agrees."""
    url: str = request.getfixturevalue(kind)
    loaded = LoadedScenario(
        scenario=scenario_with(vehicle("TRUCK-A", "DEPOT-A", 2000, 6)), path="t", sha256="0" * 64
    )
    orders = [order("a", "FOB-1", ("TARP", 1)), order("b", "HOSP-1", ("TARP", 1))]
    plan = plan_batch(orders, loaded, NOW, PlanParams(matrix_url=url, matrix_kind=kind), FAST)
    (route,) = plan.routes
    where = {loc.id: (loc.lat, loc.lon) for loc in loaded.scenario.locations}
    legs = pairwise([route.depot, *(s.location for s in route.stops), route.depot])
    metres = sum(
        round((abs(where[a][0] - where[b][0]) + abs(where[a][1] - where[b][1])) * 100_000)
        for a, b in legs
    )
    assert route.distance_km == pytest.approx(metres / 1000) == 40.0
    assert plan.solver.params["plan"]["matrix_url"] == url


@pytest.mark.parametrize(
    ("kind", "answer", "reason"),
    [
        ("osrm", (500, {"message": "down"}), "failed"),
        (
            "osrm",
            (200, {"code": "Ok", "distances": [[0, 1, None], [1, 0, 1], [1, 1, 0]]}),
            "unroutable",
        ),
        ("valhalla", (400, {"error_code": 171, "error": "No suitable edges"}), "failed"),
        (
            "valhalla",
            (200, {"sources_to_targets": [[{"distance": d} for d in (0, None, 1)]] * 3}),
            "unroutable",
        ),
    ],
)
def test_each_fallback_is_told_once_with_provider_and_reason(
    kind: MatrixKind, answer: tuple[int, Any], reason: str, request: pytest.FixtureRequest
) -> None:
    """The hook hears (provider, reason) per fetch; remembered distances are not a new fallback."""
    url: str = request.getfixturevalue(kind)
    _Osrm.answer = _Valhalla.answer = answer
    told: list[tuple[str, str]] = []
    matrix = matrix_for(url, 1.3, kind, on_fallback=lambda *heard: told.append(heard))
    matrix.matrix(POINTS)
    matrix.matrix(POINTS[:2])
    assert told == [(kind, reason)]


def test_a_healthy_service_is_no_fallback(osrm: str, valhalla: str) -> None:
    """Complete tables from either service tell the hook nothing."""
    told: list[tuple[str, str]] = []
    services: list[tuple[str, MatrixKind]] = [(osrm, "osrm"), (valhalla, "valhalla")]
    for url, kind in services:
        matrix_for(url, 1.3, kind, on_fallback=lambda *heard: told.append(heard)).matrix(POINTS)
    assert told == []


def test_the_planner_counts_a_failed_road_service_once_per_plan(
    osrm: str, order: OrderFactory
) -> None:
    """The handler's hook makes a fallback during plan_batch one qm_planner_matrix_fallbacks."""
    labels = {"provider": "osrm", "reason": "failed"}
    _Osrm.answer = (503, {"message": "overloaded"})
    loaded = LoadedScenario(
        scenario=scenario_with(vehicle("TRUCK-A", "DEPOT-A", 2000, 6)), path="t", sha256="0" * 64
    )
    registry = CollectorRegistry()
    planner = Planner(PlannerSettings(), KafkaBroker(), loaded, PlannerMetrics.on(registry))

    def count() -> float:
        return registry.get_sample_value("qm_planner_matrix_fallbacks_total", labels) or 0.0

    before = count()
    plan_batch(
        [order("a", "FOB-1", ("TARP", 1))],
        loaded,
        NOW,
        PlanParams(matrix_url=osrm),
        FAST,
        on_fallback=planner.count_matrix_fallback,
    )
    assert count() - before == 1
