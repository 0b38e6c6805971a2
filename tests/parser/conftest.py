"""Shared fixtures for parser tests: a tiny invented scenario."""

from __future__ import annotations

import pytest

from services.common.scenario import Scenario

_TINY = {
    "name": "tiny",
    "locations": [
        {
            "id": "DEPOT-NORTH",
            "names": ["North Depot", "Nordy"],
            "kind": "depot",
            "lat": 35.30,
            "lon": 44.10,
        },
        {
            "id": "FOB-HERON",
            "names": ["FOB Heron", "Heron", "HRN", "Herron"],
            "kind": "fob",
            "lat": 35.45,
            "lon": 44.30,
        },
        {
            "id": "VIL-QASR-ALMA",
            "names": ["Qasr Alma", "Kasr Alma", "Alma"],
            "kind": "village",
            "lat": 35.10,
            "lon": 44.50,
        },
        {
            "id": "CAMP-GREENFIELD",
            "names": ["Greenfield camp", "Greenfield"],
            "kind": "camp",
            "lat": 35.00,
            "lon": 44.00,
        },
    ],
    "catalog": [
        {
            "sku": "WATER-PAL",
            "names": ["bottled water", "water"],
            "class": "I",
            "unit": "pallet",
            "weight_kg": 900,
            "volume_m3": 1.4,
        },
        {
            "sku": "WATER-TANK",
            "names": ["bulk water", "tanker water"],
            "class": "I",
            "unit": "liter",
            "weight_kg": 1,
            "volume_m3": 0.001,
        },
        {
            "sku": "RATION-CASE",
            "names": ["field rations", "MRE"],
            "class": "I",
            "unit": "case",
            "weight_kg": 10,
            "volume_m3": 0.03,
        },
        {
            "sku": "GAS-OIL",
            "names": ["diesel", "diesel fuel"],
            "class": "III",
            "unit": "gallon",
            "weight_kg": 3.2,
            "volume_m3": 0.0038,
        },
        {
            "sku": "AVGAS",
            "names": ["jet fuel", "JP-8"],
            "class": "III",
            "unit": "gallon",
            "weight_kg": 3.0,
            "volume_m3": 0.0038,
        },
        {
            "sku": "GEN-5KW",
            "names": ["5kW generator"],
            "class": "VII",
            "unit": "each",
            "weight_kg": 100,
            "volume_m3": 0.5,
        },
        {
            "sku": "GEN-30KW",
            "names": ["30kW generator"],
            "class": "VII",
            "unit": "each",
            "weight_kg": 900,
            "volume_m3": 3,
        },
        {
            "sku": "COT",
            "names": ["folding cots", "cots"],
            "class": "II",
            "unit": "each",
            "weight_kg": 8,
            "volume_m3": 0.05,
        },
        {
            "sku": "ROUND-9MM",
            "names": ["9mm"],
            "class": "V",
            "unit": "crate",
            "weight_kg": 20,
            "volume_m3": 0.02,
        },
    ],
    "fleet": [
        {
            "id": "TRK-1",
            "type": "truck",
            "depot": "DEPOT-NORTH",
            "capacity": {"weight_kg": 10000, "volume_m3": 30},
            "speed_kmh": 50,
            "shift": {"start": "06:00", "end": "20:00"},
        },
    ],
}


@pytest.fixture(scope="session")
def tiny() -> Scenario:
    """An invented four-place, nine-item theater."""
    return Scenario.model_validate(_TINY)
