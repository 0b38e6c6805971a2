"""The solver's parameter tree: the flat record plans are identified by, and the same searches.

`SolveParams` was ~14 flat fields; it is now a tree (construction, local search, ruin and
recreate, portfolio). Plan ids are derived from `as_dict()`, so it must give the flat dictionary
it gave before, key for key and in the same order; and the named configs must search as before.
The values below were recorded with the flat parameters.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lab.cli.bench import CONFIGS, config_params
from services.common.scenario import Scenario
from services.planner.solver import (
    Construction,
    LocalSearch,
    Portfolio,
    RuinRecreate,
    SolveParams,
    solve,
)
from tests.planner.conftest import OrderFactory
from tests.planner.test_sisr_boundary import _problem

_ALTERNATES = ["SAVINGS", "PATH_CHEAPEST_ARC", "PARALLEL_CHEAPEST_INSERTION"]
# SolveParams().as_dict() with the flat parameters: the plan ids of every plan made so far.
DEFAULT: dict[str, Any] = {
    "time_limit_s": 5.0,
    "first_solution": "PATH_CHEAPEST_ARC",
    "metaheuristic": "GUIDED_LOCAL_SEARCH",
    "solution_limit": None,
    "log_search": False,
    "workers": 2,
    "alternates": _ALTERNATES,
    "construction": "sisr",
    "polish_share": 0.1,
    "seed": 0,
    "gls_lambda": 0.3,
    "ruin_recreate": False,
    "ruin_visits": 20,
    "alternate_search": "ruin_recreate",
}
# What each named config changed in that dictionary (at `--time-limit 2`).
CONFIG_CHANGES: dict[str, dict[str, Any]] = {
    "default": {},
    "before": {"workers": 1, "construction": "savings", "gls_lambda": 0.1},
    "ortools": {"construction": "savings"},
    "ruin-recreate": {
        "workers": 1,
        "first_solution": "SAVINGS",
        "construction": None,
        "ruin_recreate": True,
    },
}
# (objective, jobs per used duty) of `config_params(name, 1.0, workers=1)` with seed 7; three
# runs gave the same values before the change (the instances settle well within the second).
SOLVES: dict[tuple[str, str], tuple[int, dict[int, list[int]]]] = {
    ("C101-12", "default"): (1280, {0: [4, 2, 6, 7, 8, 5, 3, 1, 0], 1: [9, 10, 11]}),
    ("C101-12", "before"): (1280, {0: [4, 2, 6, 7, 8, 5, 3, 1, 0], 1: [9, 10, 11]}),
    ("C101-12", "ruin-recreate"): (1280, {0: [4, 2, 6, 7, 8, 5, 3, 1, 0], 1: [9, 10, 11]}),
    ("R101-12", "default"): (3058, {0: [1, 5], 1: [10, 9, 0], 2: [4, 6, 7], 4: [11, 8, 2, 3]}),
    ("R101-12", "before"): (3058, {0: [4, 6, 7], 2: [10, 9, 0], 3: [11, 8, 2, 3], 4: [1, 5]}),
    ("R101-12", "ruin-recreate"): (
        3058,
        {0: [10, 9, 0], 1: [11, 8, 2, 3], 2: [4, 6, 7], 3: [1, 5]},
    ),
    ("scenario", "default"): (2002295, {2: [2, 1, 3], 4: [0]}),
    ("scenario", "before"): (2002295, {2: [2, 3, 1], 4: [0]}),
    ("scenario", "ruin-recreate"): (2002295, {2: [2, 3, 1], 4: [0]}),
}


def test_default_params_give_the_flat_dictionary_plan_ids_come_from() -> None:
    """Same keys, same order, same values: plan ids and hashes of existing plans do not change."""
    assert list(SolveParams().as_dict().items()) == list(DEFAULT.items())


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_named_configs_keep_their_meaning(name: str) -> None:
    """`qm bench planner --config NAME` records the flat parameters it recorded before."""
    expected = {**DEFAULT, "time_limit_s": 2.0, **CONFIG_CHANGES[name]}
    assert config_params(name, 2.0).as_dict() == expected


def test_portfolio_variants_record_what_they_recorded_before() -> None:
    """The second worker: the next first solution, the next seed, ruin and recreate."""
    _, other = SolveParams().variants()
    changes = {"first_solution": "SAVINGS", "seed": 1, "ruin_recreate": True}
    assert other.as_dict() == {**DEFAULT, **changes}


def test_each_group_checks_its_own_fields() -> None:
    """A bad value is refused by the group it belongs to, naming the field."""
    with pytest.raises(ValueError, match="construction"):
        Construction(start="greedy")
    with pytest.raises(ValueError, match="polish_share"):
        Construction(polish_share=0)
    with pytest.raises(ValueError, match="metaheuristic"):
        LocalSearch(metaheuristic="BOGUS")
    with pytest.raises(ValueError, match="alternates"):
        Portfolio(alternates=("BOGUS",))
    with pytest.raises(ValueError, match="ruin_visits"):
        RuinRecreate(visits=0)
    with pytest.raises(TypeError, match="construction must be a Construction"):
        SolveParams(construction="savings")  # type: ignore[arg-type]


@pytest.mark.parametrize(("instance", "name"), sorted(SOLVES))
def test_a_fixed_seed_searches_as_before(
    instance: str, name: str, tiny: Scenario, order: OrderFactory
) -> None:
    """Each config's search, one worker and seed 7: the objective and routes recorded before."""
    problem, _ = _problem(instance, tiny, order)
    params = config_params(name, 1.0, workers=1)
    params = replace(params, construction=replace(params.construction, seed=7))
    solution = solve(problem, params)
    routes = {tour.duty: [visit.job for visit in tour.visits] for tour in solution.tours}
    assert (solution.objective, routes) == SOLVES[instance, name]
