"""One text, several requests: one demand per destination, or clarify."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.common.scenario import load_scenario
from services.common.settings import DEFAULT_SCENARIO
from services.parser.interpret import Accepted, Clarify, Several
from services.parser.pipeline import understand

AT = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def scenario():  # type: ignore[no-untyped-def]
    return load_scenario(DEFAULT_SCENARIO).scenario


def _places(scenario) -> list[str]:  # type: ignore[no-untyped-def]
    return [loc.names[0] for loc in scenario.locations if loc.kind not in ("depot",)]


def test_one_line_per_place_becomes_one_demand_per_place(scenario) -> None:  # type: ignore[no-untyped-def]
    """Twenty one-line requests for three places: three demands, nothing summed across places."""
    a, b, c = _places(scenario)[:3]
    lines = [f"REQ {n % 3 + 1} pallets of bottled water to {(a, b, c)[n % 3]}" for n in range(20)]
    outcome = understand("\n".join(lines) + "\nSSG Kim", AT, scenario, None).outcome
    assert isinstance(outcome, Several)
    by_place = {p.destination: p.lines[0][1] for p in outcome.parts}
    assert len(by_place) == 3
    assert sum(by_place.values()) == sum(n % 3 + 1 for n in range(20))


def test_a_header_names_the_place_for_the_lines_below(scenario) -> None:  # type: ignore[no-untyped-def]
    """'<place>:' on its own line sends the items under it there."""
    a, b = _places(scenario)[:2]
    text = f"{a}:\n- 10 pallets of bottled water\n{b}:\n- 20 blankets\nThanks, Ana Diaz"
    outcome = understand(text, AT, scenario, None).outcome
    assert isinstance(outcome, Several) and len(outcome.parts) == 2
    assert all(p.requester == "Ana Diaz" for p in outcome.parts)


def test_items_for_two_places_at_once_are_asked_back(scenario) -> None:  # type: ignore[no-untyped-def]
    """'to A and B' gives no way to split: clarify the destination."""
    a, b = _places(scenario)[:2]
    outcome = understand(f"60 blankets to {a} and {b}, split as needed.", AT, scenario, None)
    assert isinstance(outcome.outcome, Clarify) and "destination" in outcome.outcome.missing


def test_a_place_that_only_sets_the_scene_does_not_split(scenario) -> None:  # type: ignore[no-untyped-def]
    """Where the writer is, or where something happened, is not a second destination."""
    a, b = _places(scenario)[:2]
    text = f"We're at {a} after the flooding. Please send 150 blankets to {b} by Friday."
    outcome = understand(text, AT, scenario, None).outcome
    assert (
        isinstance(outcome, Accepted)
        and outcome.destination
        == scenario.locations[[loc.names[0] for loc in scenario.locations].index(b)].id
    )


def test_quoted_history_is_not_a_second_request(scenario) -> None:  # type: ignore[no-untyped-def]
    """An old message quoted below the new one never becomes a demand."""
    a, b = _places(scenario)[:2]
    text = f"New request: 120 blankets to {a}.\nThanks, Bo\n\n> Old: 90 blankets to {b}."
    assert isinstance(understand(text, AT, scenario, None).outcome, Accepted)
