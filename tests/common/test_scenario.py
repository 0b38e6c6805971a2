"""Scenario loading: the demo and the evaluation theater load; broken files say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.common.scenario import ScenarioError, load_scenario
from services.common.settings import DEFAULT_SCENARIO
from tests.paths import EVAL_DIR

EVAL = EVAL_DIR / "scenario.yaml"


def test_the_demo_theater_loads_with_operators():
    loaded = load_scenario(DEFAULT_SCENARIO)
    assert loaded.scenario.operator_by_id["duty-officer"].roles == ("approver",)
    assert all(v.depot in loaded.scenario.location_by_id for v in loaded.scenario.fleet)
    assert loaded.version.endswith(loaded.sha256[:12])


def test_the_evaluation_theater_loads_in_the_same_format():
    scenario = load_scenario(EVAL).scenario
    assert len(scenario.locations) == 35 and len(scenario.catalog) == 48
    assert len(scenario.fleet) == 14


def _broken(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(DEFAULT_SCENARIO.read_text())
    mutate(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["fleet"][0].update(depot="FOB-HALCYON"), "not a depot"),
        (lambda d: d["locations"][1]["names"].append("Harbor Depot"), "duplicate location alias"),
        (lambda d: d["catalog"][0].update(weight_kg=-1), "catalog.0.weight_kg"),
        (lambda d: d["fleet"][0]["shift"].update(start="25:00"), "clock time"),
        (lambda d: d.pop("fleet"), "fleet"),
    ],
)
def test_a_broken_scenario_is_rejected_with_the_problem_named(tmp_path, mutate, needle):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_broken(tmp_path, mutate))
    assert needle in str(caught.value)


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path / "nope.yaml")
