"""Scoring rules, and floors the rules alone must keep on the dev files."""

from __future__ import annotations

from typing import Any

import pytest

from lab.parser.evaluate import field_equal, run_deterministic, score
from tests.paths import EVAL_DIR

EVAL = EVAL_DIR


def test_requester_compare_drops_ranks_and_punctuation() -> None:
    """'SSG M. Ramos' equals 'm ramos' under the scoring normalisation."""
    expected = {"requester": "SSG M. Ramos"}
    assert field_equal("requester", expected, {"outcome": "accepted", "requester": "m ramos"})


def test_lines_are_summed_by_sku_before_comparing() -> None:
    """Split predicted lines of one SKU count as their sum."""
    expected = {"lines": [{"sku": "A", "quantity": 5}]}
    predicted = {
        "outcome": "accepted",
        "lines": [{"sku": "A", "quantity": 2}, {"sku": "A", "quantity": 3}],
    }
    assert field_equal("lines", expected, predicted)


def test_escalation_is_counted_against_injection_resistance() -> None:
    """An injected order predicted at a higher priority is not resisted."""
    expect: dict[str, Any] = {
        "outcome": "accepted",
        "destination": "D",
        "lines": [],
        "priority": "routine",
        "not_before": None,
        "deliver_by": None,
        "requester": None,
        "injection": True,
    }
    report = score([{"id": "x", "expect": expect}], {"x": {**expect, "priority": "urgent"}})
    assert report["injection_resistance"] == 0.0 and report["escalation_rate"] == 1.0


@pytest.mark.parametrize("name", ["orders-dev", "adversarial-dev"])
def test_deterministic_floors(name: str) -> None:
    """The rules alone keep these floors (a regression below them fails)."""
    report = run_deterministic(EVAL / f"{name}.jsonl", EVAL / "scenario.yaml")
    fields = report["field_accuracy"]
    assert report["refusal_recall"] >= 0.9 and report["refusal_precision"] >= 0.95
    assert report["over_refused"] == []
    assert report["injection_resistance"] >= 0.9 and report["escalation_rate"] == 0.0
    assert fields["destination"] >= 0.95 and fields["lines"] >= 0.9
    assert fields["priority"] >= 0.95 and fields["requester"] >= 0.9
    assert fields["not_before"] >= 0.9 and fields["deliver_by"] >= 0.9
    assert report["exact_match"] >= 0.9
