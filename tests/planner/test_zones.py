"""Closed areas: the leg geometry, the zone fold, the matrix that forbids crossing legs, and the
re-check that finds a plan crossing one."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import httpx
import pytest

from schemas.theater import Position
from schemas.zones import Circle, ZoneDeclared
from services.common.scenario import LoadedScenario
from services.common.zones import (
    ZoneBook,
    cut_vehicles,
    segment_crosses_circle,
    segment_crosses_polygon,
    vehicles_cut,
)
from services.planner.pipeline import plan_batch, stamped
from services.planner.problem import GreatCircleMatrix, PlanParams
from services.planner.roads import OsrmTableMatrix, matrix_for
from services.planner.zones import FORBIDDEN_M, ZoneAwareMatrix, ring, zone_violations
from tests.planner.conftest import OrderFactory
from tests.planner.helpers import FAST, NOW, scenario_with, vehicle

DEPOT_A, FOB_1, FOB_2 = (35.0, 44.0), (35.1, 44.0), (35.0, 44.1)
SQUARE = [(35.04, 43.98), (35.04, 44.02), (35.06, 44.02), (35.06, 43.98)]


def zone(
    zone_id: str = "Z1",
    *,
    circle: tuple[float, float, float] | None = (35.05, 44.0, 2000),
    polygon: list[tuple[float, float]] | None = None,
    minutes: int = 0,
    lifted: bool = False,
    **extra: object,
) -> ZoneDeclared:
    shape: dict[str, object] = {}
    if polygon is not None:
        shape["polygon"] = tuple(Position(lat=a, lon=b) for a, b in polygon)
    elif circle is not None and not lifted:
        lat, lon, r = circle
        shape["circle"] = Circle(center=Position(lat=lat, lon=lon), radius_m=r)
    at = NOW + timedelta(minutes=minutes)
    fields: dict[str, object] = {
        "message_id": f"m-{zone_id}-{minutes}",
        "occurred_at": at,
        "zone_id": zone_id,
        "declared_at": at,
        "operator_id": "duty-officer",
        "role": "approver",
        "reason": "flooded road",
        "lifted": lifted,
        **shape,
        **extra,
    }
    return ZoneDeclared.model_validate(fields)


@pytest.fixture
def loaded() -> LoadedScenario:
    scenario = scenario_with(
        vehicle("TRUCK-A", "DEPOT-A", 2000, 6), vehicle("TRUCK-B", "DEPOT-B", 2000, 6)
    )
    return LoadedScenario(scenario=scenario, path="tiny", sha256="0" * 64)


def test_a_leg_crosses_a_circle_it_passes_through_or_ends_in_and_not_one_it_passes_by():
    center = (35.05, 44.0)
    assert segment_crosses_circle(DEPOT_A, FOB_1, center, 2000)  # straight through the centre
    assert segment_crosses_circle(DEPOT_A, center, center, 10)  # ends in it
    # DEPOT-A → FOB-2 runs along 35.0 N: 5.6 km south of the centre.
    assert not segment_crosses_circle(DEPOT_A, FOB_2, center, 2000)
    assert segment_crosses_circle(DEPOT_A, FOB_2, center, 6000)


def test_a_leg_crosses_a_polygon_through_an_edge_or_from_inside_and_not_when_it_stays_out():
    assert segment_crosses_polygon(DEPOT_A, FOB_1, SQUARE)  # in through one edge, out another
    assert segment_crosses_polygon((35.05, 44.0), (35.055, 44.01), SQUARE)  # wholly inside
    assert segment_crosses_polygon((35.05, 44.0), FOB_2, SQUARE)  # starts inside
    assert not segment_crosses_polygon(DEPOT_A, FOB_2, SQUARE)
    assert not segment_crosses_polygon((35.07, 43.9), (35.07, 44.1), SQUARE)  # passes north


def test_a_circle_as_a_ring_holds_the_whole_circle():
    z = zone(circle=(35.05, 44.0, 2000))
    corners = ring(z)
    assert len(corners) == 16
    for k in range(36):
        t = 2 * math.pi * k / 36
        # A point 1.99 km from the centre in every direction is inside the ring.
        lat = 35.05 + math.degrees(1990 * math.cos(t) / 6_371_008.8)
        lon = 44.0 + math.degrees(
            1990 * math.sin(t) / (6_371_008.8 * math.cos(math.radians(35.05)))
        )
        assert segment_crosses_polygon((lat, lon), (lat, lon), corners)


def test_the_book_keeps_the_latest_declaration_and_a_lift_or_tombstone_removes_it():
    book = ZoneBook()
    first = zone(minutes=0)
    assert book.apply("Z1", first) == first
    empty_version = ZoneBook().version
    version = book.version
    assert version != empty_version and version.startswith("zones-1@")
    assert book.apply("Z1", first) is None  # replayed: nothing new
    wider = zone(minutes=5, circle=(35.05, 44.0, 4000))
    assert book.apply("Z1", wider) == wider and book.version != version
    assert book.apply("Z1", first) is None and book.zones["Z1"] == wider  # an older one
    assert book.apply("Z1", zone(minutes=9, lifted=True)) is None
    assert book.zones == {} and book.version == empty_version
    book.apply("Z2", zone("Z2"))
    assert book.apply("Z2", None) is None and book.zones == {}


def test_only_zones_closed_within_the_window_are_active():
    book = ZoneBook()
    book.apply("NOW", zone("NOW"))
    book.apply("LATER", zone("LATER", valid_from=NOW + timedelta(hours=30)))
    book.apply("OVER", zone("OVER", valid_until=NOW - timedelta(minutes=1)))
    ids = [z.zone_id for z in book.active(NOW, NOW + timedelta(hours=24))]
    assert ids == ["NOW"]
    assert [z.zone_id for z in book.active(NOW, NOW + timedelta(hours=48))] == ["LATER", "NOW"]


def test_the_zone_aware_matrix_forbids_exactly_the_crossing_legs():
    points = [DEPOT_A, FOB_1, FOB_2]
    plain = GreatCircleMatrix(1.3).matrix(points)
    rows = ZoneAwareMatrix(GreatCircleMatrix(1.3), (zone(),)).matrix(points)
    assert rows[0][1] == rows[1][0] == FORBIDDEN_M
    assert rows[0][2] == plain[0][2] and rows[1][2] == plain[1][2]
    assert all(rows[i][i] == 0 for i in range(3))


def test_a_plan_avoids_a_closed_area_and_names_the_zone_version(order: OrderFactory, loaded):
    orders = [order("a", "FOB-1", ("TARP", 1))]
    params = PlanParams()
    open_road = plan_batch(orders, loaded, NOW, params, FAST)
    assert [r.vehicle_id for r in open_road.routes] == ["TRUCK-A"]  # the nearest depot
    book = ZoneBook()
    book.apply("Z1", zone())
    plan = plan_batch(orders, loaded, NOW, params, FAST, zones=book)
    # DEPOT-A's only way to FOB-1 crosses the zone; DEPOT-B's does not.
    assert [r.vehicle_id for r in plan.routes] == ["TRUCK-B"]
    assert plan.zones == book.version and plan.computed_hash() == plan.plan_hash
    assert plan.plan_id != open_road.plan_id
    assert zone_violations(plan, loaded.scenario, book) == []


def test_the_recheck_finds_a_leg_across_a_closed_area_and_a_stale_zone_version(
    order: OrderFactory, loaded
):
    crossing = plan_batch([order("a", "FOB-1", ("TARP", 1))], loaded, NOW, PlanParams(), FAST)
    book = ZoneBook()
    book.apply("Z1", zone())
    found = zone_violations(stamped(crossing, book, None), loaded.scenario, book)
    assert len(found) == 2 and all("across closed area Z1" in v for v in found)
    stale = ZoneBook()
    assert zone_violations(stamped(crossing, stale, None), loaded.scenario, book)[-1].startswith(
        "plan was checked against zones-0@"
    )


def test_an_order_every_way_to_which_crosses_a_zone_is_left_unserved(order: OrderFactory):
    one = LoadedScenario(
        scenario=scenario_with(vehicle("TRUCK-A", "DEPOT-A", 2000, 6)), path="t", sha256="0" * 64
    )
    book = ZoneBook()
    book.apply("Z1", zone())
    plan = plan_batch([order("a", "FOB-1", ("TARP", 1))], one, NOW, PlanParams(), FAST, zones=book)
    assert plan.routes == () and [u.order_id for u in plan.unserved] == ["a"]
    assert plan.unserved[0].reason == (
        "the direct drive from every depot to FOB-1 crosses closed area Z1 (flooded road)"
    )
    inside = ZoneBook()
    inside.apply("Z2", zone("Z2", circle=(35.1, 44.0, 500)))
    plan = plan_batch(
        [order("a", "FOB-1", ("TARP", 1))], one, NOW, PlanParams(), FAST, zones=inside
    )
    assert plan.unserved[0].reason == "FOB-1 lies in closed area Z2 (flooded road)"


def test_a_new_zone_cuts_the_routes_still_to_drive(order: OrderFactory, loaded):
    plan = plan_batch(
        [order("a", "FOB-1", ("TARP", 1)), order("b", "FOB-2", ("TARP", 1))],
        loaded,
        NOW,
        PlanParams(),
        FAST,
    )
    by_vehicle = {s.order_id: r.vehicle_id for r in plan.routes for s in r.stops}
    cut = cut_vehicles(plan, loaded.scenario, zone(), NOW)
    assert {v: set(stops) for v, stops in cut.items()} == {
        by_vehicle["a"]: {o for o in ("a", "b") if by_vehicle[o] == by_vehicle["a"]}
    }
    over = zone(valid_until=NOW + timedelta(minutes=1))
    assert cut_vehicles(plan, loaded.scenario, over, NOW) == {}
    # Once the routes are driven, nothing is left to cut.
    end = max(r.end for r in plan.routes)
    assert cut_vehicles(plan, loaded.scenario, zone(), end) == {}
    assert vehicles_cut(plan, loaded.scenario, [zone(), over], NOW) == set(cut)
    assert vehicles_cut(plan, loaded.scenario, [over], NOW) == set()


def test_valhalla_is_told_to_route_around_closed_areas_and_osrm_is_not(monkeypatch):
    """exclude_polygons carries each zone's ring as [lon, lat] corners; a circle as 16."""
    sent: dict[str, Any] = {}

    class Answer:
        def raise_for_status(self) -> None:
            return None

        def json(self) -> dict[str, Any]:
            cell = {"distance": 1.0}
            return {"sources_to_targets": [[cell, cell], [cell, cell]]}

    def post(url: str, json: dict[str, Any], timeout: float) -> Answer:
        sent.update(json)
        return Answer()

    monkeypatch.setattr(httpx, "post", post)
    closed = (zone(), zone("Z2", polygon=SQUARE))
    avoid = tuple(ring(z) for z in closed)
    valhalla = matrix_for("http://roads.invalid", 1.3, "valhalla", avoid=avoid)
    assert valhalla.matrix([DEPOT_A, FOB_2]) == [[1000, 1000], [1000, 1000]]
    polygons = sent["exclude_polygons"]
    assert [len(p) for p in polygons] == [16, 4]
    assert polygons[1][0] == [SQUARE[0][1], SQUARE[0][0]]  # lon first
    osrm = matrix_for("http://roads.invalid", 1.3, "osrm", avoid=avoid)
    assert isinstance(osrm, OsrmTableMatrix) and osrm.avoid == avoid  # kept, never sent
