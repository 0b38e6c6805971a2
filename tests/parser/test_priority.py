"""Priority rules in order, negation-aware."""

from __future__ import annotations

import pytest

from services.parser.priority import resolve_priority


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 cots. PRI: 1", "urgent"),
        ("5 cots, priority 2", "priority"),
        ("Routine. Need this ASAP", "routine"),
        ("Need 5 cots immediately", "urgent"),
        ("Casualties inbound, 10 cots", "urgent"),
        ("Expedite please", "priority"),
        ("It is not urgent", "routine"),
        ("flash flood damaged the tents; high priority", "priority"),
        ("We had an emergency last week, now calm", "routine"),
        ("5 cots to Alma", "routine"),
    ],
)
def test_priority_rules(text: str, expected: str) -> None:
    """Explicit statements beat cues; negated or past cues do not count."""
    assert resolve_priority(text)[0] == expected
