"""What every qm command shares: settings, async running, and error reporting."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel
from rich.console import Console

from services.common.settings import CommonSettings
from services.common.signing import SigningKeyError, load_private

T = TypeVar("T")
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)


def settings() -> CommonSettings:
    """Settings from the environment (QM_*, KAFKA_BOOTSTRAP)."""
    return CommonSettings()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from a synchronous typer command."""
    return asyncio.run(coro)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear error line and exit."""
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def print_json(value: BaseModel | list[Any] | dict[str, Any]) -> None:
    """Machine-readable output for scripts."""
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    typer.echo(json.dumps(data, indent=2, default=str))


def key_path(state_dir: Path, operator: str) -> Path:
    """Where an operator's private key lives by default."""
    return state_dir / "keys" / f"{operator}.pem"


def operator_key(operator: str, key: Path | None = None) -> Ed25519PrivateKey:
    """The operator's private signing key (`key`, or their default file), or a clear error."""
    try:
        return load_private(key or key_path(settings().state_dir, operator))
    except SigningKeyError as err:
        fail(str(err))
