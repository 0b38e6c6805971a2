"""`qm bench …`: benchmarks that print tables (quality and speed are measured, not tested)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks: planner quality, load.", no_args_is_help=True)
