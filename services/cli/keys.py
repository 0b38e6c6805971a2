"""`qm keys …`: operator signing keys and the local trust store."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from services.cli.context import console, fail, key_path, settings
from services.common.scenario import ScenarioError, load_scenario
from services.common.signing import SigningKeyError, TrustStore, generate, trusted_key_for

app = typer.Typer(help="Operator signing keys and the trust store.", no_args_is_help=True)


@app.command("create")
def create(
    operator: Annotated[str, typer.Option("--operator", help="Operator id from the scenario.")],
    trust: Annotated[
        bool, typer.Option(help="Also add the public key to the local trust store.")
    ] = True,
    passphrase: Annotated[
        bool, typer.Option(help="Protect the private key with a passphrase.")
    ] = False,
    key: Annotated[Path | None, typer.Option(help="Where to write the private key.")] = None,
) -> None:
    """Create an Ed25519 key for a scenario operator (file mode 0600)."""
    common = settings()
    try:
        scenario = load_scenario(common.scenario).scenario
    except ScenarioError as err:
        fail(str(err))
    person = scenario.operator_by_id.get(operator)
    if person is None:
        fail(f"{operator!r} is not an operator in {common.scenario}; add it to `operators:` first")
    secret = getpass.getpass("passphrase: ").encode() if passphrase else None
    path = key or key_path(common.state_dir, operator)
    try:
        private = generate(path, secret)
    except SigningKeyError as err:
        fail(str(err))
    entry = trusted_key_for(private, person.id, person.name, person.roles)
    console.print(f"key {entry.key_id} for {operator} written to {path}")
    if trust:
        store = TrustStore.load(common.trust_store)
        store.add(entry)
        store.save(common.trust_store)
        console.print(f"trusted in {common.trust_store} with roles {', '.join(person.roles)}")


@app.command("list")
def list_keys() -> None:
    """List trusted operator keys."""
    store = TrustStore.load(settings().trust_store)
    for key_id, entry in sorted(store.keys.items()):
        console.print(f"{key_id}  {entry.operator_id}  {','.join(entry.roles)}  {entry.name}")
