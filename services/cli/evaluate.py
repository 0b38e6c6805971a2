"""`qm eval …`: measure the parser on a labelled corpus."""

from __future__ import annotations

import typer

app = typer.Typer(help="Evaluate the parser on a labelled corpus.", no_args_is_help=True)
