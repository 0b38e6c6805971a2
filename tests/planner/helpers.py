"""Tiny invented theaters for the planner tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.common.scenario import Scenario
from services.planner.solver import SolveParams

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
FAST = SolveParams(time_limit_s=0.5)

_LOCATIONS = [
    {"id": "DEPOT-A", "names": ["Depot A"], "kind": "depot", "lat": 35.0, "lon": 44.0},
    {"id": "DEPOT-B", "names": ["Depot B"], "kind": "depot", "lat": 35.3, "lon": 44.3},
    {"id": "FOB-1", "names": ["Fob One"], "kind": "fob", "lat": 35.1, "lon": 44.0},
    {"id": "FOB-2", "names": ["Fob Two"], "kind": "fob", "lat": 35.0, "lon": 44.1},
    {"id": "HOSP-1", "names": ["Hospital"], "kind": "hospital", "lat": 35.1, "lon": 44.1},
    {"id": "FAR-1", "names": ["Far Camp"], "kind": "camp", "lat": 37.0, "lon": 46.0},
    {"id": "COP-B", "names": ["Outpost by Depot B"], "kind": "cop", "lat": 35.31, "lon": 44.31},
]
_CATALOG = [
    {
        "sku": "WATER-PAL",
        "names": ["water"],
        "class": "I",
        "unit": "pallet",
        "weight_kg": 950,
        "volume_m3": 1.5,
    },
    {
        "sku": "VACCINE",
        "names": ["vaccine"],
        "class": "VIII",
        "unit": "box",
        "weight_kg": 10,
        "volume_m3": 0.05,
        "handling": ["cold_chain"],
    },
    {
        "sku": "FUEL",
        "names": ["fuel"],
        "class": "III",
        "unit": "gallon",
        "weight_kg": 3.04,
        "volume_m3": 0.003785,
        "handling": ["hazmat"],
    },
    {
        "sku": "RADIO",
        "names": ["radio"],
        "class": "VII",
        "unit": "each",
        "weight_kg": 5,
        "volume_m3": 0.02,
        "handling": ["secure"],
    },
    {
        "sku": "TARP",
        "names": ["tarp"],
        "class": "II",
        "unit": "each",
        "weight_kg": 2,
        "volume_m3": 0.5,
    },
]


def vehicle(
    vid: str,
    depot: str,
    kg: float,
    m3: float,
    skills: Sequence[str] = (),
    speed: float = 60,
    shift: tuple[str, str] = ("06:00", "20:00"),
) -> dict[str, Any]:
    return {
        "id": vid,
        "type": "truck",
        "depot": depot,
        "capacity": {"weight_kg": kg, "volume_m3": m3},
        "skills": list(skills),
        "speed_kmh": speed,
        "shift": {"start": shift[0], "end": shift[1]},
    }


def scenario_with(
    *fleet: dict[str, Any],
    vehicle_types: dict[str, Any] | None = None,
    holds: dict[str, list[str]] | None = None,
) -> Scenario:
    """A scenario on the tiny map with the given fleet, rules per vehicle type and, per depot,
    the SKUs it holds (every depot holds everything unless given)."""
    stocks = holds or {}
    locations = [
        loc | ({"holds": stocks[loc["id"]]} if loc["id"] in stocks else {}) for loc in _LOCATIONS
    ]
    return Scenario.model_validate(
        {
            "name": "tiny",
            "road_factor": 1.3,
            "locations": locations,
            "catalog": _CATALOG,
            "fleet": list(fleet),
            "vehicle_types": [{"type": t, **r} for t, r in (vehicle_types or {}).items()],
        }
    )
