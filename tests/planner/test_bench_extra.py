"""Li & Lim pickup-and-delivery and Cordeau multi-depot instances: read, solve, re-check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.planner.bench import (
    check,
    depots_of,
    evaluate,
    read_instance,
    read_json_bks,
    route_distance,
    routes_of,
    to_problem,
)
from services.planner.solver import SolveParams, solve

# K Q S; then i x y demand ready due service pickup delivery. Two pairs, 13 units > capacity 10.
LI_LIM = """2\t10\t1
0\t0\t0\t0\t0\t100\t0\t0\t0
1\t1\t0\t5\t0\t100\t1\t0\t2
2\t3\t0\t-5\t0\t100\t1\t1\t0
3\t0\t2\t8\t0\t100\t1\t0\t4
4\t0\t4\t-8\t0\t100\t1\t3\t0
"""

# type m n t; t rows D Q; customers i x y d q f a list; depots i x y. A 10-unit duration limit
# keeps depot 0 (the origin) from serving the customers near depot 1 at (10, 0).
CORDEAU = """2 1 3 2
10 20
10 20
 1  1 0 0 5 1 1 1
 2  9 0 0 5 1 1 1
 3 10 1 0 5 1 1 1
 4  0 0 0 0 0 0
 5 10 0 0 0 0 0
"""


@pytest.fixture
def extra(tmp_path: Path) -> dict[str, Path]:
    """The tiny instances in folders, with a BKS JSON file above them like the shared set."""
    (tmp_path / "li_lim_100").mkdir()
    (tmp_path / "cordeau_mdvrp").mkdir()
    out = {
        "li_lim": tmp_path / "li_lim_100" / "tinypd.txt",
        "cordeau": tmp_path / "cordeau_mdvrp" / "tinymd.txt",
    }
    out["li_lim"].write_text(LI_LIM)
    out["cordeau"].write_text(CORDEAU)
    row = {"class": "li_lim_100", "best_known_cost": 12.5, "solved_with_vehicles": 1}
    (tmp_path / "PDPTW-bks.json").write_text(json.dumps({"TinyPD": row}))
    return out


def test_li_lim_reader_pairs_pickups_with_their_deliveries(extra: dict[str, Path]) -> None:
    """Pairs come from the pickup rows; deliveries carry negative demand; windows and service."""
    inst = read_instance(extra["li_lim"])
    assert (inst.set, inst.convention, inst.vehicles, inst.capacity) == (
        "li_lim_100",
        "exact_double",
        2,
        10,
    )
    assert inst.pairs == ((1, 2), (3, 4)) and inst.demand == (0, 5, -5, 8, -8)
    assert inst.windows is not None and inst.windows[0] == (0, 100) and inst.service[1] == 1


def test_li_lim_solves_feasibly_with_each_pickup_first(extra: dict[str, Path]) -> None:
    """The planner's solver serves both pairs, each on one route, pickup before delivery."""
    inst = read_instance(extra["li_lim"], read_json_bks([extra["li_lim"].parent]))
    assert inst.name == "TinyPD"
    result = evaluate(inst, None, lambda p: solve(p, SolveParams(0.5)))
    assert result.feasible, result.problems
    problem = to_problem(inst)
    routes = routes_of(problem, solve(problem, SolveParams(0.5)))
    for route in routes:
        for p, d in inst.pairs:
            assert (p in route) == (d in route)
            assert p not in route or route.index(p) < route.index(d)


def test_check_catches_broken_pairs_and_overloads(extra: dict[str, Path]) -> None:
    """A delivery before its pickup, a pair split across routes, 13 units on board at once."""
    inst = read_instance(extra["li_lim"])
    assert "route 0 delivers 2 before its pickup 1" in check(inst, [[2, 1], [3, 4]])
    assert "route 0 serves only one of pickup 1 and its delivery 2" in check(inst, [[1], [2, 3, 4]])
    assert check(inst, [[1, 3, 2, 4]]) == ["route 0 carries 13 > capacity 10"]
    assert check(inst, [[1, 2, 3, 4]]) == []


def test_cordeau_reader_puts_depots_first(extra: dict[str, Path]) -> None:
    """Depots become nodes 0 and 1, customers follow; the limits and fleet per depot are read."""
    inst = read_instance(extra["cordeau"])
    assert (inst.set, inst.depots, inst.vehicles, inst.capacity, inst.max_duration) == (
        "cordeau",
        2,
        1,
        20,
        10,
    )
    assert inst.coords[:3] == ((0, 0), (10, 0), (1, 0)) and inst.demand == (0, 0, 5, 5, 5)
    assert inst.windows is None


def test_cordeau_solves_from_both_depots_within_the_duration(extra: dict[str, Path]) -> None:
    """The near customer goes from depot 0, the two far ones from depot 1: 2 + 2 + sqrt(2)."""
    inst = read_instance(extra["cordeau"])
    problem = to_problem(inst)
    solution = solve(problem, SolveParams(0.5))
    routes, depots = routes_of(problem, solution), depots_of(problem, solution)
    assert check(inst, routes, depots) == []
    assert sorted(zip(depots, map(sorted, routes), strict=True)) == [(0, [2]), (1, [3, 4])]
    assert route_distance(inst, routes, depots) == pytest.approx(4 + 2**0.5)


def test_check_catches_duration_and_fleet_per_depot(extra: dict[str, Path]) -> None:
    """All from depot 0 lasts too long; two routes from depot 1 exceed its single vehicle."""
    inst = read_instance(extra["cordeau"])
    (too_long,) = check(inst, [[2, 3, 4]], [0])
    assert too_long.startswith("route 0 lasts 20.46") and too_long.endswith("> limit 10")
    assert check(inst, [[2], [3], [4]], [0, 1, 1]) == ["2 routes exceed the fleet of 1 at depot 1"]
