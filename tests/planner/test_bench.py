"""Benchmark readers, distance conventions, the independent re-check, a two-instance smoke run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lab.cli.bench import config_params
from lab.planner.bench import (
    arc,
    check,
    evaluate,
    gap_pct,
    matrix,
    read_bks,
    read_instance,
    route_distance,
    routes_of,
    to_problem,
)
from services.cli.main import app
from services.planner.construct import savings_routes
from services.planner.solver import Construction, Portfolio, SolveParams, solve
from tests.paths import BENCH_DIR

# Depot at the origin; customer 1 is a corner away, 2 far to the east, 3 north with a late window.
SOLOMON = """TINY1

VEHICLE
NUMBER     CAPACITY
  2         15

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0       0          0          0          0        100          0
    1       1          1          5          0         50         30
    2       3          0         10          0         50         30
    3       0          4          5         20         30          2
"""

VRP = """NAME : tiny-x
TYPE : CVRP
DIMENSION : 4
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 10
NODE_COORD_SECTION
1 0 0
2 1 2
3 3 4
4 0 -1
DEMAND_SECTION
1 0
2 4
3 6
4 5
DEPOT_SECTION
1
-1
EOF
"""

BKS = """instance,set,objective,convention,vehicles,distance
TINY1,solomon,hierarchical,exact_double,2,20.0
TINY1,solomon,distance,dimacs_trunc1,2,19.9
tiny-x,cvrplib_x,cvrp,tsplib_nint,2,16
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The tiny instances and their BKS rows as files."""
    out = {"solomon": tmp_path / "tiny1.txt", "vrp": tmp_path / "tiny-x.vrp"}
    out["solomon"].write_text(SOLOMON)
    out["vrp"].write_text(VRP)
    out["bks"] = tmp_path / "bks.csv"
    out["bks"].write_text(BKS)
    return out


def test_solomon_reader_keeps_windows_service_and_fleet(files: dict[str, Path]) -> None:
    """A Solomon file yields its fleet, demands, windows and service times, named by bks.csv."""
    inst = read_instance(files["solomon"], read_bks(files["bks"]))
    assert (inst.name, inst.set, inst.convention) == ("TINY1", "solomon", "dimacs_trunc1")
    assert (inst.vehicles, inst.capacity, inst.demand) == (2, 15, (0, 5, 10, 5))
    assert inst.windows is not None and inst.windows[3] == (20, 30)
    assert inst.service == (0, 30, 30, 2)


def test_vrp_reader_has_no_windows_and_room_in_the_fleet(files: dict[str, Path]) -> None:
    """A CVRPLIB file has no windows and a fleet above the bin-packing bound of 2 vehicles."""
    inst = read_instance(files["vrp"], read_bks(files["bks"]))
    assert (inst.name, inst.convention, inst.windows) == ("tiny-x", "tsplib_nint", None)
    assert inst.demand == (0, 4, 6, 5) and inst.capacity == 10
    assert inst.vehicles > 2


def test_bks_keeps_only_distance_conventions(files: dict[str, Path]) -> None:
    """The exact_double row is ignored; the DIMACS one is what gaps are taken against."""
    bks = read_bks(files["bks"])
    assert bks["tiny1"].distance == 19.9 and bks["tiny-x"].vehicles == 2


def test_conventions_truncate_or_round(files: dict[str, Path]) -> None:
    """sqrt(2) is 1.4 under DIMACS truncation and 1 under TSPLIB nint; sqrt(5) rounds to 2."""
    solomon, x = read_instance(files["solomon"]), read_instance(files["vrp"])
    assert arc(solomon, 0, 1) == 14  # tenths
    assert route_distance(solomon, [[1]]) == pytest.approx(2.8)
    assert arc(x, 0, 1) == 2 and arc(x, 0, 2) == 5 and arc(x, 1, 3) == 3
    for inst in (solomon, x):
        m = matrix(inst)
        n = len(inst.demand)
        assert all(m[i][j] == arc(inst, i, j) for i in range(n) for j in range(n))


def test_check_accepts_a_feasible_plan(files: dict[str, Path]) -> None:
    """Serving 3 then 1 on one route and 2 on another breaks no rule."""
    inst = read_instance(files["solomon"])
    assert check(inst, [[3, 1], [2]]) == []


def test_check_catches_overload_lateness_and_coverage(files: dict[str, Path]) -> None:
    """Each broken rule is reported: 20 > 15 units, a closed window, a missed and a twice-served."""
    inst = read_instance(files["solomon"])
    assert check(inst, [[1, 2, 3]])[0] == "route 0 carries 20 > capacity 15"
    # Serving 2 first (30 of service) reaches 3 at 38.0, past its due time of 30.
    assert check(inst, [[1], [2, 3]]) == ["route 1 reaches node 3 at 38.0 > due 30.0"]
    problems = check(inst, [[1, 1], [2]])
    assert "customer 1 is visited 2 times" in problems and "customer 3 is not visited" in problems


def test_tiny_instances_solve_feasibly_through_the_planner(files: dict[str, Path]) -> None:
    """The planner's own solver serves every customer of both tiny instances, re-check clean."""
    bks = read_bks(files["bks"])
    for path in (files["solomon"], files["vrp"]):
        inst = read_instance(path, bks)
        result = evaluate(inst, bks[inst.name.lower()], lambda p: solve(p, SolveParams(0.5)))
        assert result.feasible, result.problems
        assert result.gap_pct is not None and math.isfinite(result.gap_pct)


def test_adapter_scales_windows_to_the_convention(files: dict[str, Path]) -> None:
    """Windows and service times are in tenths like DIMACS distances, and time equals distance."""
    problem = to_problem(read_instance(files["solomon"]))
    assert problem.jobs[2].window == (200, 300) and problem.service_min[1] == 300
    assert problem.travel(problem.duties[0], 0, 1) == problem.distance_m[0][1] == 14


def test_gap_is_relative_to_bks(files: dict[str, Path]) -> None:
    """A distance 10 % above the BKS is a 10 % gap; without a BKS there is no gap."""
    bks = read_bks(files["bks"])
    assert gap_pct(17.6, bks["tiny-x"]) == pytest.approx(10.0)
    assert gap_pct(17.6, None) is None


def test_two_instance_benchmark_smoke(tmp_path: Path) -> None:
    """`qm bench planner` on a Solomon and an X instance returns feasible plans with finite gaps."""
    out = tmp_path / "bench.json"
    args = [
        "bench",
        "planner",
        str(BENCH_DIR / "solomon" / "R101.txt"),
        str(BENCH_DIR / "cvrplib_x" / "X-n101-k25.vrp"),
        "--bks",
        str(BENCH_DIR / "bks.csv"),
        "--time-limit",
        "1.5",
        "--json",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())["results"]
    assert [r["instance"] for r in rows] == ["R101", "X-n101-k25"]
    assert all(r["feasible"] and math.isfinite(r["gap_pct"]) for r in rows)


def test_savings_routes_respect_capacity_and_windows(files: dict[str, Path]) -> None:
    """Our construction serves every tiny customer and passes the independent re-check."""
    inst = read_instance(files["solomon"])
    routes = savings_routes(to_problem(inst))
    assert routes is not None
    assert check(inst, routes) == []


def test_solve_from_savings_start_is_feasible_and_no_worse(files: dict[str, Path]) -> None:
    """Starting OR-Tools from the savings routes yields a feasible plan no longer than them."""
    inst = read_instance(files["vrp"])
    problem = to_problem(inst)
    start = savings_routes(problem)
    assert start is not None
    solution = solve(problem, SolveParams(0.5, construction=Construction(start="savings")))
    routes = routes_of(problem, solution)
    assert check(inst, routes) == []
    assert route_distance(inst, routes) <= route_distance(inst, start)


def test_portfolio_of_two_workers_returns_a_feasible_plan(files: dict[str, Path]) -> None:
    """Two spawned searches with different first solutions still yield one re-checked plan."""
    params = SolveParams(1.0, workers=2, portfolio=Portfolio(alternates=("SAVINGS",)))
    assert params.first_solutions() == ["PATH_CHEAPEST_ARC", "SAVINGS"]
    inst = read_instance(files["solomon"])
    problem = to_problem(inst)
    solution = solve(problem, params)
    assert check(inst, routes_of(problem, solution)) == []
    assert solution.params["workers"] == 2


def test_configs_run_side_by_side_and_are_recorded(files: dict[str, Path], tmp_path: Path) -> None:
    """Two named configs on one tiny instance give one re-checked row each, params in the JSON."""
    out = tmp_path / "bench.json"
    args = ["bench", "planner", str(files["solomon"]), "--bks", str(files["bks"])]
    args += ["--time-limit", "0.3", "--config", "before", "--config", "ruin-recreate"]
    result = CliRunner().invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert [r["config"] for r in payload["results"]] == ["before", "ruin-recreate"]
    assert all(r["feasible"] for r in payload["results"])
    assert payload["configs"]["ruin-recreate"]["ruin_recreate"] is True
    assert payload["configs"]["before"]["construction"] == "savings"


def test_construction_none_lets_ortools_construct(files: dict[str, Path], tmp_path: Path) -> None:
    """`--construction none` reaches the search (it was once dropped as if not given)."""
    out = tmp_path / "bench.json"
    args = ["bench", "planner", str(files["solomon"]), "--bks", str(files["bks"])]
    args += ["--time-limit", "0.3", "--construction", "none", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["configs"]["default"]["construction"] is None
    assert config_params("default", 1.0, construction="savings").construction.start == "savings"


def test_unknown_config_is_refused_with_the_choices() -> None:
    """A misspelt config name fails before any solve and lists the names there are."""
    with pytest.raises(ValueError, match="choose from default, before"):
        config_params("fastest", 1.0)
