"""`qm bench …`: benchmarks that print tables (quality and speed are measured, not tested)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from functools import partial
from importlib import import_module
from pathlib import Path
from statistics import fmean, median
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lab.cli.bench_load import load
from lab.planner.bench import (
    Bks,
    Result,
    Routes,
    evaluate,
    instance_paths,
    mean_gaps,
    read_bks,
    read_instance,
    read_json_bks,
)
from lab.planner.multitrip import MultiTripResult, evaluate_multi_trip
from lab.planner.multitrip import multi_trip as multi_trip_of
from services.cli.context import console, fail
from services.planner.problem import Problem
from services.planner.solver import (
    Construction,
    LocalSearch,
    RuinRecreate,
    Solution,
    SolveParams,
    solve,
)

app = typer.Typer(help="Benchmarks: planner quality, load.", no_args_is_help=True)

DEFAULT_BKS = Path("../shared/bench/bks.csv")

# Named searches for `--config` (repeatable, run side by side on each instance so they share
# the machine's load). "default" is exactly what the planner service runs (two workers, each
# starting OR-Tools' guided local search from our ruin-and-recreate routes with its own seed);
# "before" is the search this bench ran before issue 7, kept to measure against.
CONFIGS: dict[str, SolveParams] = {
    "default": SolveParams(),
    "before": SolveParams(
        workers=1,
        construction=Construction(start="savings", first_solution="PATH_CHEAPEST_ARC"),
        local_search=LocalSearch(gls_lambda=0.1),
        ruin_recreate=RuinRecreate(enabled=False),
    ),
    # The default before our ruin-and-recreate start routes: OR-Tools alone (GLS from our
    # savings routes, and OR-Tools' own ruin and recreate) on two workers.
    "ortools": SolveParams(construction=Construction(start="savings")),
    # The portfolio's second worker alone: OR-Tools' savings, then SISR ruin and recreate.
    "ruin-recreate": SolveParams(
        workers=1,
        construction=Construction(start=None, first_solution="SAVINGS"),
        ruin_recreate=RuinRecreate(enabled=True),
    ),
}


# Other solvers for `--solver` (repeatable), beside our configurations: the module that adapts
# each one and the function in it. Only the bench imports them, lazily; `make setup-bench`
# installs them (the `bench` extra).
SOLVERS: dict[str, tuple[str, str]] = {
    "vroom": ("lab.planner.with_vroom", "solve_vroom"),
    "pyvrp": ("lab.planner.with_pyvrp", "solve_pyvrp"),
}

Answer = Callable[[Problem], Solution | Routes]


def config_params(
    name: str,
    time_limit: float,
    *,
    workers: int | None = None,
    first_solution: str | None = None,
    construction: str | None = None,
) -> SolveParams:
    """The named configuration at this time limit, with flags given on the command line.

    A flag left at None keeps the configuration's value; construction "none" lets OR-Tools
    construct.
    """
    if name not in CONFIGS:
        raise ValueError(f"unknown config {name!r}; choose from {', '.join(CONFIGS)}")
    params = replace(CONFIGS[name], time_limit_s=time_limit)
    if workers is not None:
        params = replace(params, workers=workers)
    start = params.construction
    if first_solution is not None:
        start = replace(start, first_solution=first_solution)
    if construction is not None:
        start = replace(start, start=None if construction == "none" else construction)
    return replace(params, construction=start)


@app.command("planner")
def planner(
    paths: Annotated[list[Path], typer.Argument(help="Instance files or folders of them.")],
    bks: Annotated[
        Path,
        typer.Option(
            help="bks.csv with best-known distances; *-bks.json files beside the instances "
            "(Li & Lim, Cordeau) are read too."
        ),
    ] = DEFAULT_BKS,
    time_limit: Annotated[float, typer.Option(help="Seconds per instance.")] = 5.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N instances.")] = None,
    config: Annotated[
        list[str] | None,
        typer.Option(help=f"Named search, repeatable to compare: {', '.join(CONFIGS)}."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Parallel searches per instance (a portfolio needs idle cores)."),
    ] = None,
    construction: Annotated[
        str | None, typer.Option(help="Where the search starts: sisr, savings or none.")
    ] = None,
    first_solution: Annotated[str | None, typer.Option(help="First-solution strategy.")] = None,
    solver: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Another solver beside the configs, repeatable: {', '.join(SOLVERS)}. Same "
            "problem and limit; one thread each (VROOM may stop sooner). Needs `make setup-bench`."
        ),
    ] = None,
    vroom_threads: Annotated[int, typer.Option(help="Threads for --solver vroom.")] = 1,
    multi_trip: Annotated[
        bool,
        typer.Option(
            "--multi-trip",
            help="Multi-trip variants generated from Solomon files (a quarter of the capacity, "
            "the best-known fleet, the depot's window as the shift), one trip vs reloads.",
        ),
    ] = False,
) -> None:
    """Solve benchmark instances with the planner's solver (and others); re-check and score."""
    if not bks.is_file():
        fail(f"no BKS file at {bks}; pass --bks ../shared/bench/bks.csv")
    files = instance_paths(paths)[:limit]
    if not files:
        fail("no instance files (.txt or .vrp) found in the given paths")
    if multi_trip:
        params = config_params((config or ["default"])[0], time_limit, workers=workers)
        _multi_trip(files, read_bks(bks), params, json_out)
        return
    try:
        configs = {
            name: config_params(
                name,
                time_limit,
                workers=workers,
                first_solution=first_solution,
                construction=construction,
            )
            for name in dict.fromkeys(config or ["default"])
        }
    except ValueError as err:
        fail(str(err))
    if vroom_threads < 1:
        fail("--vroom-threads must be at least 1")
    others = {name: _other(name, time_limit, vroom_threads) for name in dict.fromkeys(solver or [])}
    solvers: dict[str, Answer] = {name: _solver(params) for name, params in configs.items()}
    solvers |= {name: answer for name, (_, answer, _) in others.items()}
    # Li & Lim and Cordeau best-known costs come in JSON files beside their instances.
    results = _run(files, read_bks(bks) | read_json_bks(paths), solvers)
    if len(results) == 1:
        (only,) = results.values()
        console.print(results_table(only))
        console.print(summary_table(only))
    else:
        notes = [f"{time_limit:g} s limit per instance"]
        notes += [f"{name}: {p.workers} worker processes" for name, p in configs.items()]
        notes += [f"{n} = {label}, {_threads(s['threads'])}" for n, (label, _, s) in others.items()]
        console.print(compare_table(results, caption="; ".join(notes)))
        console.print(compare_summary(results))
    if json_out is not None:
        payload = {
            "params": next(iter(configs.values())).as_dict(),
            "configs": {name: params.as_dict() for name, params in configs.items()},
            "solvers": {
                name: {"solver": label, "time_limit_s": time_limit, **settings}
                for name, (label, _, settings) in others.items()
            },
            "results": [
                asdict(r) | {("solver" if n in others else "config"): n}
                for n, rs in results.items()
                for r in rs
            ],
        }
        json_out.write_text(json.dumps(payload, indent=2))


def _multi_trip(
    files: list[Path], known: dict[str, Bks], params: SolveParams, json_out: Path | None
) -> None:
    """Each file's multi-trip variant, solved one trip per vehicle and with reloads."""
    results = []
    with Progress(TextColumn("{task.description}"), console=console, transient=True) as bar:
        task = bar.add_task("solving")
        for path in files:
            instance = read_instance(path, known)
            bar.update(task, description=f"solving {path.stem} one trip, then with reloads")
            try:
                variant = multi_trip_of(instance, known.get(instance.name.lower()))
            except ValueError as err:
                fail(str(err))
            answer = partial(solve, params=params)
            results.append(evaluate_multi_trip(variant, answer, time.monotonic))
    console.print(multi_trip_table(results, params.time_limit_s))
    if json_out is not None:
        payload = {"params": params.as_dict(), "results": [asdict(r) for r in results]}
        json_out.write_text(json.dumps(payload, indent=2))


def multi_trip_table(results: list[MultiTripResult], time_limit: float) -> Table:
    """One row per instance: who is served in one trip and with reloads."""
    table = Table(
        "instance",
        "customers",
        "vehicles x capacity",
        "reload",
        "served, one trip",
        "served, reloads",
        "reloads",
        "distance",
        "feasible",
        caption=f"Multi-trip instances generated from Solomon's (not a public set): a quarter "
        f"of the capacity, the best-known fleet, the depot's window as the shift (short on "
        f"type-1 files), a reload at the depot as long as the mean service; {time_limit:g} s "
        f"per solve",
    )
    for r in results:
        table.add_row(
            r.instance,
            str(r.customers),
            f"{r.vehicles} x {r.capacity}",
            str(r.reload),
            str(r.served_one_trip),
            str(r.served),
            str(r.reloads),
            f"{r.distance:.1f}",
            "yes" if r.feasible else f"[red]no: {r.problems[0]}[/]",
        )
    return table


def _run(
    files: list[Path], known: dict[str, Bks], solvers: dict[str, Answer]
) -> dict[str, list[Result]]:
    results: dict[str, list[Result]] = {name: [] for name in solvers}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("solving", total=len(files) * len(solvers))
        for path in files:
            instance = read_instance(path, known)
            # Every solver on this instance before the next: they share the same load.
            for name, answer in solvers.items():
                bar.update(task, description=f"solving {path.stem} ({name})")
                bks = known.get(instance.name.lower())
                results[name].append(evaluate(instance, bks, answer))
                bar.advance(task)
    return results


def _solver(params: SolveParams) -> Answer:
    def solver(problem: Problem) -> Solution:
        return solve(problem, params)

    return solver


def _other(name: str, time_limit: float, vroom_threads: int) -> tuple[str, Answer, dict[str, Any]]:
    """Another solver's label, its call at this limit and its settings, imported only now."""
    if name not in SOLVERS:
        fail(f"unknown solver {name!r}; choose from {', '.join(SOLVERS)}")
    module_name, function = SOLVERS[name]
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as err:
        fail(
            f"--solver {name} needs {err.name}, which is not installed here: run "
            "`make setup-bench` (installs the bench extra into .venv)"
        )
    # PyVRP searches on one thread; VROOM on as many as it is given.
    kwargs: dict[str, Any] = (
        {"threads": vroom_threads, "exploration": 5} if name == "vroom" else {"seed": 1}
    )
    call = getattr(module, function)

    def answer(problem: Problem) -> Routes:
        routes: Routes = call(problem, time_limit, **kwargs)
        return routes

    return str(module.NAME), answer, {"threads": 1} | kwargs


def _threads(n: int) -> str:
    return "1 thread" if n == 1 else f"{n} threads"


def results_table(results: list[Result]) -> Table:
    """One row per instance."""
    table = Table("instance", "set", "vehicles", "distance", "BKS", "gap %", "time s", "feasible")
    for r in results:
        table.add_row(
            r.instance,
            r.set,
            str(r.vehicles),
            f"{r.distance:.1f}",
            "-" if r.bks is None else f"{r.bks:g}",
            "-" if r.gap_pct is None else f"{r.gap_pct:.2f}",
            f"{r.seconds:.1f}",
            "yes" if r.feasible else f"[red]no: {r.problems[0]}[/]",
        )
    return table


def summary_table(results: list[Result]) -> Table:
    """Mean and median gap per set, and how many plans passed the re-check."""
    table = Table("set", "instances", "mean gap %", "median gap %", "feasible")
    for name, mean in mean_gaps(results).items():
        mine = [r for r in results if r.set == name]
        gaps = [r.gap_pct for r in mine if r.gap_pct is not None]
        ok = sum(r.feasible for r in mine)
        table.add_row(
            name, str(len(mine)), f"{mean:.2f}", f"{median(gaps):.2f}", f"{ok}/{len(mine)}"
        )
    return table


def compare_table(results: dict[str, list[Result]], caption: str | None = None) -> Table:
    """One row per instance; gap, vehicles and seconds per solver (! marks a failed re-check)."""
    names = (f"{name} gap % / veh / s" for name in results)
    table = Table("instance", "set", *names, caption=caption)
    for row in zip(*results.values(), strict=True):
        cells = [
            f"{_gap(r)} / {r.vehicles} / {r.seconds:.1f}" + ("" if r.feasible else " [red]![/]")
            for r in row
        ]
        table.add_row(row[0].instance, row[0].set, *cells)
    return table


def compare_summary(results: dict[str, list[Result]]) -> Table:
    """Mean / median gap per set and configuration, and how many plans passed the re-check."""
    table = Table("set", "instances", *(f"{name} mean / median %" for name in results))
    for set_name in mean_gaps(next(iter(results.values()))):
        cells = []
        for rs in results.values():
            mine = [r for r in rs if r.set == set_name]
            gaps = [r.gap_pct for r in mine if r.gap_pct is not None]
            ok = sum(r.feasible for r in mine)
            means = f"{fmean(gaps):.2f} / {median(gaps):.2f}" if gaps else "- / -"
            cells.append(f"{means} ({ok}/{len(mine)} ok)")
        table.add_row(set_name, str(len(gaps)), *cells)
    return table


def _gap(r: Result) -> str:
    return "-" if r.gap_pct is None else f"{r.gap_pct:.2f}"


app.command("load")(load)
