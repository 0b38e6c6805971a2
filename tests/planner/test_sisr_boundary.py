"""The C boundary of the ruin-and-recreate search: a fixed seed gives the routes recorded before
its ~31 positional ctypes arguments became one `Inst` structure (the same C search, one call).

The values below were recorded with the positional call; every field of the structure
(matrices, travel classes, duty shapes, fixed costs, who may serve what) shapes them, so a
field passed in the wrong place or of the wrong width changes the routes or the objective.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from services.common.scenario import Scenario
from services.planner import sisr
from services.planner.problem import Customers, Problem, build_problem, customers_problem
from tests.paths import BENCH_DIR
from tests.planner.conftest import OrderFactory
from tests.planner.helpers import NOW

# (objective, routes as node lists per duty), recorded before the change with seed 7.
# Four runs gave the same values: the instances are small enough to settle well within the time.
RECORDED: dict[str, tuple[int, list[list[int]]]] = {
    "C101-12": (1280, [[5, 3, 7, 8, 9, 6, 4, 2, 1], [10, 11, 12], []]),
    "R101-12": (3058, [[2, 6], [11, 10, 1], [5, 7, 8], [], [12, 9, 3, 4]]),
    "scenario": (2002295, [[], [], [4, 3, 5], [], [2], []]),
}


def _solomon(name: str, customers: int, vehicles: int) -> Customers:
    """The depot and first `customers` of a Solomon instance; distances in tenths, truncated."""
    path = BENCH_DIR / "solomon" / f"{name}.txt"
    if not path.exists():
        pytest.skip(f"{path} is missing: set QM_BENCH_DIR to the shared benchmark instances")
    lines = Path(path).read_text().splitlines()
    capacity = int(lines[4].split()[1])
    rows = [[int(x) for x in line.split()] for line in lines[9:] if line.strip()]
    rows = rows[: customers + 1]
    dist = tuple(tuple(int(10 * math.hypot(a[1] - b[1], a[2] - b[2])) for b in rows) for a in rows)
    return Customers(
        distance=dist,
        travel=dist,
        demand=tuple(r[3] for r in rows),
        windows=tuple((10 * r[4], 10 * r[5]) for r in rows),
        service=tuple(10 * r[6] for r in rows),
        capacity=capacity,
        vehicles=vehicles,
    )


def _scenario_problem(tiny: Scenario, order: OrderFactory) -> Problem:
    """Two depots, three speeds and skills: travel classes, duty shapes, allowed duties."""
    orders = [
        order("v", "FOB-1", ("VACCINE", 2)),
        order("f", "FOB-2", ("FUEL", 10)),
        order("w", "HOSP-1", ("WATER-PAL", 1)),
        order("t", "FOB-2", ("TARP", 3)),
        order("r", "FOB-1", ("RADIO", 1)),
    ]
    return build_problem(orders, tiny, NOW)


def _problem(name: str, tiny: Scenario, order: OrderFactory) -> tuple[Problem, float]:
    """The problem and the seconds it is searched for."""
    if name == "scenario":
        return _scenario_problem(tiny, order), 0.3
    instance, customers, vehicles, seconds = {
        "C101-12": ("C101", 12, 3, 2.0),
        "R101-12": ("R101", 12, 5, 0.3),
    }[name]
    return customers_problem(_solomon(instance, customers, vehicles)), seconds


def _solve(problem: Problem, seconds: float) -> tuple[int, list[list[int]]]:
    # Under a second is one slice; two seconds are two, the second starting from routes passed in.
    objectives: list[int] = []
    routes = sisr.start_routes(problem, seconds, seed=7, progress=objectives.append)
    assert routes is not None
    return objectives[-1], routes


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_a_fixed_seed_gives_the_recorded_routes(
    name: str, tiny: Scenario, order: OrderFactory
) -> None:
    """Same instance, same seed: the objective and every route as recorded before the change."""
    assert sisr.available(), "the C search did not build: see the log for the compiler's error"
    assert _solve(*_problem(name, tiny, order)) == RECORDED[name]
