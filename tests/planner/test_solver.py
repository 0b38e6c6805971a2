"""Solving tiny named instances: capacities, skills, windows, priorities and reasons hold."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from lab.cli.bench import config_params
from schemas.orders import Priority
from schemas.plans import Route
from services.common.scenario import Scenario
from services.planner import sisr
from services.planner.plan import EXHAUSTED
from services.planner.problem import build_problem
from services.planner.settings import PlannerSettings
from services.planner.solver import (
    _FOUND,
    Construction,
    LocalSearch,
    Portfolio,
    Progress,
    RuinRecreate,
    SolveParams,
    solve,
)
from services.planner.verify import verify
from tests.paths import BENCH_DIR
from tests.planner.conftest import OrderFactory, Planner
from tests.planner.helpers import NOW


def _routed(routes: Sequence[Route]) -> dict[str, str]:
    return {s.order_id: r.vehicle_id for r in routes for s in r.stops}


def test_mixed_batch_is_served_within_capacity(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """Five feasible orders are all routed, no route exceeds its vehicle, and verify agrees."""
    orders = [
        order("o1", "FOB-1", ("WATER-PAL", 1)),
        order("o2", "FOB-2", ("WATER-PAL", 1)),
        order("o3", "HOSP-1", ("VACCINE", 5)),
        order("o4", "FOB-2", ("FUEL", 200)),
        order("o5", "HOSP-1", ("TARP", 4)),
    ]
    run = planner(orders, tiny)
    assert run.plan.unserved == ()
    assert set(_routed(run.plan.routes)) == {"o1", "o2", "o3", "o4", "o5"}
    caps = {v.id: v.capacity for v in tiny.fleet}
    for route in run.plan.routes:
        assert route.load_kg <= caps[route.vehicle_id].weight_kg
        assert route.load_m3 <= caps[route.vehicle_id].volume_m3
    assert verify(run.plan, tiny, orders) == []


def test_cold_chain_goes_only_on_a_reefer(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """Vaccines ride the cold-chain vehicle and fuel the hazmat one, never the plain truck."""
    run = planner([order("v", "FOB-1", ("VACCINE", 2)), order("f", "FOB-1", ("FUEL", 10))], tiny)
    assert _routed(run.plan.routes) == {"v": "REEF-1", "f": "FUEL-1"}


def test_skill_nobody_has_is_unserved_with_that_skill(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """A radio needs 'secure'; no vehicle has it, and the reason says so."""
    run = planner([order("r", "FOB-1", ("RADIO", 1)), order("t", "FOB-1", ("TARP", 1))], tiny)
    (unserved,) = run.plan.unserved
    assert unserved.order_id == "r"
    assert "secure" in unserved.reason
    assert "skills" in unserved.reason


def test_too_heavy_and_unreachable_reasons(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """Counterfactual reasons: heavier than any capable vehicle; window no depot can reach."""
    orders = [
        order("heavy", "FOB-1", ("WATER-PAL", 4)),
        order("late", "FAR-1", ("TARP", 1), deliver_by=NOW + timedelta(hours=2)),
        order("closed", "FOB-1", ("TARP", 1), deliver_by=NOW - timedelta(hours=1)),
    ]
    reasons = {u.order_id: u.reason for u in planner(orders, tiny).plan.unserved}
    assert reasons["heavy"].startswith("heavier or bulkier")
    assert "unreachable" in reasons["late"]
    assert "closed" in reasons["closed"]


def test_urgent_beats_routine_when_capacity_is_short(
    one_truck: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """One pallet fits per shift, three are asked for today: the urgent one is carried."""
    by = NOW + timedelta(hours=12)
    orders = [
        order("a-routine", "FOB-1", ("WATER-PAL", 1), deliver_by=by),
        order("b-routine", "FOB-2", ("WATER-PAL", 1), deliver_by=by),
        order("z-urgent", "HOSP-1", ("WATER-PAL", 1), priority=Priority.URGENT, deliver_by=by),
    ]
    run = planner(orders, one_truck)
    assert set(_routed(run.plan.routes)) == {"z-urgent"}
    assert {u.order_id: u.reason.split(":")[0] for u in run.plan.unserved} == {
        "a-routine": EXHAUSTED,
        "b-routine": EXHAUSTED,
    }


def test_windows_are_respected(tiny: Scenario, order: OrderFactory, planner: Planner) -> None:
    """An order that may not arrive before 14:00 or after 15:00 is served inside that hour."""
    nb, db = NOW.replace(hour=14), NOW.replace(hour=15)
    run = planner([order("w", "FOB-2", ("TARP", 2), not_before=nb, deliver_by=db)], tiny)
    (route,) = run.plan.routes
    (stop,) = route.stops
    assert nb <= stop.arrival <= db
    assert route.start >= NOW.replace(hour=6)
    assert stop.arrival - route.start < timedelta(hours=1), "leaves late instead of waiting"


def test_every_order_is_served_or_unserved_once(
    tiny: Scenario, order: OrderFactory, planner: Planner
) -> None:
    """Routed and unserved orders partition the batch, redelivered duplicates included."""
    orders = [
        order(f"o{i}", ("FOB-1", "FOB-2", "HOSP-1")[i % 3], ("WATER-PAL", 1)) for i in range(8)
    ]
    run = planner([*orders, orders[0]], tiny)
    routed = [s.order_id for r in run.plan.routes for s in r.stops]
    unserved = [u.order_id for u in run.plan.unserved]
    assert sorted(routed + unserved) == sorted(o.order_id for o in orders)
    assert all(u.reason for u in run.plan.unserved)


def test_progress_reports_improving_solutions(tiny: Scenario, order: OrderFactory) -> None:
    """The progress hook sees falling objectives ending at the returned one."""
    seen: list[Progress] = []
    problem = build_problem([order("o1", "FOB-1", ("TARP", 1))], tiny, NOW)
    solution = solve(problem, SolveParams(time_limit_s=0.2), progress=seen.append)
    assert seen[0].solutions == 1
    assert all(a.objective > b.objective for a, b in pairwise(seen))
    assert solution.wall_seconds < 2.0
    assert solution.objective == seen[-1].objective


def test_no_orders_means_no_search(tiny: Scenario) -> None:
    """An empty problem returns at once with no tours."""
    solution = solve(build_problem([], tiny, NOW), SolveParams(time_limit_s=0.1))
    assert solution.status == "NO_WORK"
    assert solution.tours == ()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SolveParams(time_limit_s=0), "time_limit_s"),
        (lambda: SolveParams(workers=0), "workers"),
        (lambda: Construction(first_solution="BOGUS"), "first_solution"),
        (lambda: LocalSearch(metaheuristic="BOGUS"), "metaheuristic"),
        (lambda: LocalSearch(gls_lambda=0), "gls_lambda"),
        (lambda: RuinRecreate(visits=0), "ruin_visits"),
        (lambda: Portfolio(search="BOGUS"), "alternate_search"),
    ],
)
def test_solve_params_refuse_unsafe_values(make: Callable[[], object], message: str) -> None:
    """No time limit, or an unknown strategy, is refused when the parameters are made."""
    with pytest.raises(ValueError, match=message):
        make()


def test_portfolio_variants_diversify_after_the_first_worker() -> None:
    """Only the first worker keeps the construction; the others run ruin and recreate when asked."""
    params = SolveParams(
        workers=2,
        construction=Construction(start="savings"),
        portfolio=Portfolio(search="ruin_recreate"),
    )
    first, other = params.variants()
    assert first == params
    assert (other.construction.start, other.ruin_recreate.enabled) == (None, True)
    assert other.construction.first_solution != first.construction.first_solution


def test_ruin_recreate_serves_every_order(tiny: Scenario, order: OrderFactory) -> None:
    """The ruin-and-recreate search still finds a plan that serves a feasible batch entirely."""
    orders = [
        order("o1", "FOB-1", ("WATER-PAL", 1)),
        order("o2", "FOB-2", ("WATER-PAL", 1)),
        order("o3", "HOSP-1", ("TARP", 4)),
    ]
    problem = build_problem(orders, tiny, NOW)
    solution = solve(
        problem, SolveParams(time_limit_s=0.5, ruin_recreate=RuinRecreate(enabled=True))
    )
    assert solution.status in {
        "ROUTING_SUCCESS",
        "ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED",
    }
    assert solution.dropped == ()
    assert sorted(v.job for t in solution.tours for v in t.visits) == [0, 1, 2]


def test_service_settings_run_the_default_search() -> None:
    """The planner service and `qm bench planner --config default` solve with the same params."""
    settings = PlannerSettings(time_limit_s=7.0)
    assert settings.solve_params() == config_params("default", 7.0) == SolveParams(7.0)


@pytest.mark.parametrize(
    ("value", "construction"), [("sisr", "sisr"), ("savings", "savings"), ("none", None)]
)
def test_construction_setting_reaches_the_search(
    value: str, construction: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QM_PLANNER_CONSTRUCTION picks where the service's search starts; a typo is refused."""
    monkeypatch.setenv("QM_PLANNER_CONSTRUCTION", value)
    assert PlannerSettings().solve_params().construction.start == construction
    monkeypatch.setenv("QM_PLANNER_CONSTRUCTION", "sisrr")
    with pytest.raises(ValueError, match="construction"):
        PlannerSettings()


def test_start_routes_that_use_up_the_limit_are_still_the_plan(
    tiny: Scenario, order: OrderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ruin and recreate back after the limit: OR-Tools still reads its routes and keeps them."""
    orders = [
        order("o1", "FOB-1", ("WATER-PAL", 1)),
        order("o2", "FOB-2", ("WATER-PAL", 1)),
        order("o3", "HOSP-1", ("TARP", 4)),
    ]
    problem = build_problem(orders, tiny, NOW)
    found = sisr.start_routes(problem, 0.1)
    assert found is not None

    def late(*_: object, **__: object) -> list[list[int]]:
        time.sleep(0.8)
        return found

    monkeypatch.setattr(sisr, "start_routes", late)
    solution = solve(problem, SolveParams(time_limit_s=0.5))
    assert solution.status in _FOUND
    assert solution.dropped == ()
    nodes = {t.duty: [problem.jobs[v.job].node for v in t.visits] for t in solution.tours}
    assert nodes == {duty: route for duty, route in enumerate(found) if route}


_KILLED_PLANNER = """
import sys
from pathlib import Path
from lab.planner.bench import read_instance, to_problem
from services.planner.solver import SolveParams, solve
solve(to_problem(read_instance(Path(sys.argv[1]))), SolveParams(time_limit_s=60))
"""


def _live_children(pid: int) -> set[int]:
    """Processes whose parent is pid, zombies left out (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if int(ppid) == pid and state != "Z":
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_portfolio_workers_exit_when_the_planner_is_killed() -> None:
    """kill -9 of a planner mid-solve: its spawned worker notices and exits, nothing lingers."""
    planner = subprocess.Popen(
        [sys.executable, "-c", _KILLED_PLANNER, str(BENCH_DIR / "solomon" / "R101.txt")],
        cwd=Path(__file__).resolve().parents[2],
    )
    workers: set[int] = set()
    try:
        until = time.monotonic() + 30
        while not workers and time.monotonic() < until:
            time.sleep(0.2)
            workers = _live_children(planner.pid)
        assert workers, "the 60 s solve spawned no worker within 30 s"
        time.sleep(3)  # the worker has started searching
        planner.kill()
        planner.wait()
        until = time.monotonic() + 15
        while any(_alive(w) for w in workers) and time.monotonic() < until:
            time.sleep(0.2)
        assert not [w for w in workers if _alive(w)], "workers outlived their planner"
    finally:
        planner.kill()
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)
