"""Items, quantities, units and amendments."""

from __future__ import annotations

from fractions import Fraction

import pytest

from services.common.scenario import Scenario
from services.parser.items import catalog, resolve_items
from services.parser.quantities import convert, parse_quantity


def _lines(text: str, scenario: Scenario) -> dict[str, int]:
    return {line.sku: line.quantity for line in resolve_items(text, catalog(scenario)).lines}


@pytest.mark.parametrize(
    ("phrase", "value"),
    [
        ("2,500", 2500),
        ("1.5k", 1500),
        ("forty-two", 42),
        ("one hundred", 100),
        ("two dozen", 24),
        ("half a dozen", 6),
        ("a pair of", 2),
        ("an", 1),
    ],
)
def test_quantity_phrases(phrase: str, value: int) -> None:
    """Digits, k, number words, dozens and pairs all parse."""
    assert parse_quantity(phrase) == value


def test_litres_convert_to_gallons_at_the_exact_factor() -> None:
    """3,785.411784 L is 1000 US gallons; gallons to litres round to whole litres."""
    assert convert(Fraction(3785), "litres", "gallon") == 1000
    assert convert(Fraction(10), "gal", "liter") == 38


def test_lines_with_units_plurals_and_number_words(tiny: Scenario) -> None:
    """Several lines in one sentence resolve to SKUs and catalog units."""
    text = "Need twelve cs of field rations, 3 pal water and 7,571 L of diesel at Heron."
    assert _lines(text, tiny) == {"RATION-CASE": 12, "WATER-PAL": 3, "GAS-OIL": 2000}


def test_unit_picks_between_items_sharing_a_word(tiny: Scenario) -> None:
    """'water' in litres is the bulk item, in pallets the bottled one."""
    assert _lines("2,000 litres of water to Alma", tiny) == {"WATER-TANK": 2000}


def test_amendment_keeps_the_last_figure(tiny: Scenario) -> None:
    """'make that N' replaces the quantity before it."""
    assert _lines("15 folding cots - make that 25 - to Alma", tiny) == {"COT": 25}


def test_quantity_after_the_item(tiny: Scenario) -> None:
    """Form-style 'ITEM x8' and 'ITEM, 500 GAL' lines are read."""
    assert _lines("JP-8, 500 GAL; COTS x8", tiny) == {"AVGAS": 500, "COT": 8}


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("Send a generator to Alma", ("item",)),
        ("Need 300 gallons of fuel at Heron", ("item",)),
        ("Half a pallet of water to Heron", ("quantity",)),
        ("2,000 rounds of 9mm to Heron", ("quantity",)),
        ("Some cots to Alma please", ("quantity",)),
        ("Need 4 satellite phones at Heron", ("item",)),
    ],
)
def test_ambiguous_or_unconvertible_asks_back(
    text: str, missing: tuple[str, ...], tiny: Scenario
) -> None:
    """Generic words, fractions, foreign units and vague amounts become clarify reasons."""
    assert resolve_items(text, catalog(tiny)).missing == missing


def test_withdrawn_item_is_dropped(tiny: Scenario) -> None:
    """An item the writer takes back is left out."""
    assert _lines("5 crates 9mm? no - just 10 cots to Alma", tiny) == {"COT": 10}
