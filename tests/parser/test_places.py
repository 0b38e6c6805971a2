"""Destination choice among the places a text names."""

from __future__ import annotations

from services.common.scenario import Scenario
from services.parser.places import choose_destination, gazetteer


def test_alias_and_listed_misspelling_resolve(tiny: Scenario) -> None:
    """Aliases and listed misspellings name the location, case-insensitively."""
    assert choose_destination("20 cots for herron pls", gazetteer(tiny)).location == "FOB-HERON"


def test_unlisted_one_letter_typo_resolves(tiny: Scenario) -> None:
    """A capitalised word one edit from a single-word alias is accepted as a fallback."""
    assert choose_destination("20 cots to Greenfeld", gazetteer(tiny)).location == (
        "CAMP-GREENFIELD"
    )


def test_correction_replaces_the_first_destination(tiny: Scenario) -> None:
    """'destination is X, not Y' picks X."""
    text = "10 cots to Heron. CORRECTION - destination is Qasr Alma, not Heron."
    assert choose_destination(text, gazetteer(tiny)).location == "VIL-QASR-ALMA"


def test_depot_is_context_not_destination(tiny: Scenario) -> None:
    """A depot named as the source is not the destination."""
    assert choose_destination("From North Depot send 5 MRE to Alma", gazetteer(tiny)).location == (
        "VIL-QASR-ALMA"
    )


def test_two_alternatives_need_clarification(tiny: Scenario) -> None:
    """'X or Y' leaves the destination open."""
    result = choose_destination("water for Heron or Alma, whichever", gazetteer(tiny))
    assert result.location is None and result.reason == "alternatives"


def test_unknown_grid_is_reported(tiny: Scenario) -> None:
    """A grid that designates no location asks back about the destination."""
    result = choose_destination("5 MRE to grid 38S ME 3800 2500", gazetteer(tiny))
    assert result.location is None and result.reason == "grid_unknown"
