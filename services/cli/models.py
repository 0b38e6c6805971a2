"""`qm model …`: the hash-pinned GGUF models of the parser (services/parser/modelstore.py).

Results go to stdout (a path, a table), progress and errors to stderr, so `$(qm model fetch)`
is the model file's path.
"""

from __future__ import annotations

from typing import Annotated

import typer

from services.cli.context import err_console, fail
from services.parser import modelstore

app = typer.Typer(help="The parser's pinned models: fetch, verify, list.", no_args_is_help=True)

Name = Annotated[
    str,
    typer.Argument(help=f"One of {', '.join(modelstore.MODELS)}."),
]


def _progress(message: str) -> None:
    err_console.print(message, markup=False, highlight=False)


@app.command("fetch")
def fetch(name: Name = modelstore.DEFAULT_MODEL) -> None:
    """Download, assemble and verify a model (nothing to do when its verified file is there)."""
    try:
        path = modelstore.fetch(name, progress=_progress)
    except (modelstore.ModelStoreError, OSError) as err:
        fail(str(err))
    typer.echo(path)


@app.command("verify")
def verify(name: Name = modelstore.DEFAULT_MODEL) -> None:
    """Re-hash a fetched model against its pinned SHA-256."""
    try:
        path = modelstore.reverify(name)
    except (modelstore.ModelStoreError, OSError) as err:
        fail(str(err))
    spec = modelstore.get_spec(name)
    typer.echo(f"{name}: ok sha256 {spec.sha256} ({spec.size_bytes:,} bytes) {path}")


@app.command("path")
def path(name: Name = modelstore.DEFAULT_MODEL) -> None:
    """Print where a model's file lives; exit 1 when it has not been fetched."""
    try:
        where = modelstore.model_path(name)
    except modelstore.ModelStoreError as err:
        fail(str(err))
    typer.echo(where)
    if not where.is_file():
        fail(f"{name} is not fetched yet; run `qm model fetch {name}`")


@app.command("list")
def list_models() -> None:
    """Every known model: size, local state (without hashing) and path."""
    for name, spec in modelstore.MODELS.items():
        default = " (default)" if name == modelstore.DEFAULT_MODEL else ""
        size_mb = spec.size_bytes / 1e6
        state = modelstore.status(name)
        typer.echo(f"{name}{default}\t{size_mb:,.0f} MB\t{state}\t{modelstore.model_path(name)}")
