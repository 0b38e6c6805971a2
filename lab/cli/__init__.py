"""The lab's `qm` commands, registered by the `quartermaster.cli` entry point."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add `qm bench`, `qm chaos` and `qm eval` to the product's CLI."""
    from lab.cli import bench, evaluate
    from lab.cli.chaos import chaos

    app.add_typer(bench.app, name="bench")
    app.command("chaos")(chaos)
    app.add_typer(evaluate.app, name="eval")
