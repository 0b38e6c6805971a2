"""`qm bench …`: benchmarks that print tables (quality and speed are measured, not tested)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from statistics import median
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.cli.bench_load import load
from services.cli.context import console, fail
from services.planner.bench import (
    Bks,
    Result,
    evaluate,
    instance_paths,
    mean_gaps,
    read_bks,
    read_instance,
    read_json_bks,
)
from services.planner.problem import Problem
from services.planner.solver import Solution, SolveParams, solve

app = typer.Typer(help="Benchmarks: planner quality, load.", no_args_is_help=True)

DEFAULT_BKS = Path("../shared/bench/bks.csv")


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
    workers: Annotated[
        int, typer.Option(help="Parallel searches per instance (a portfolio needs idle cores).")
    ] = 1,
    construction: Annotated[
        str, typer.Option(help="Start from our construction: savings, or none.")
    ] = "savings",
    first_solution: Annotated[str, typer.Option(help="First-solution strategy.")] = (
        SolveParams.first_solution
    ),
) -> None:
    """Solve benchmark instances with the planner's solver; re-check and score every plan."""
    if not bks.is_file():
        fail(f"no BKS file at {bks}; pass --bks ../shared/bench/bks.csv")
    files = instance_paths(paths)[:limit]
    if not files:
        fail("no instance files (.txt or .vrp) found in the given paths")
    try:
        params = SolveParams(
            time_limit,
            first_solution=first_solution,
            workers=workers,
            construction=None if construction == "none" else construction,
        )
    except ValueError as err:
        fail(str(err))
    # Li & Lim and Cordeau best-known costs come in JSON files beside their instances.
    results = _run(files, read_bks(bks) | read_json_bks(paths), params)
    console.print(results_table(results))
    console.print(summary_table(results))
    if json_out is not None:
        payload = {"params": params.as_dict(), "results": [asdict(r) for r in results]}
        json_out.write_text(json.dumps(payload, indent=2))


def _run(files: list[Path], known: dict[str, Bks], params: SolveParams) -> list[Result]:
    def solver(problem: Problem) -> Solution:
        return solve(problem, params)

    results = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("solving", total=len(files))
        for path in files:
            bar.update(task, description=f"solving {path.stem}")
            instance = read_instance(path, known)
            results.append(evaluate(instance, known.get(instance.name.lower()), solver))
            bar.advance(task)
    return results


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


app.command("load")(load)
