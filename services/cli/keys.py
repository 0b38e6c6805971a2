"""`qm keys …`: operator signing keys and the local trust store."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from services.cli.context import console, fail, key_path, settings
from services.common.scenario import ScenarioError, load_scenario
from services.common.signing import (
    SigningKeyError,
    TrustStore,
    generate,
    key_id_of,
    load_private,
    public_b64,
    trusted_key_for,
)

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
        _sign_and_save(store, common.admin_private_key, common.trust_store)
        console.print(f"trusted in {common.trust_store} with roles {', '.join(person.roles)}")


def _sign_and_save(store: TrustStore, admin_key: Path, path: Path) -> None:
    try:
        admin = load_private(admin_key)
    except SigningKeyError as err:
        fail(f"{err}; the trust store must be signed by the administrator (`qm keys admin-init`)")
    store.sign(admin)
    store.save(path)


@app.command("admin-init")
def admin_init() -> None:
    """Create the administrator key whose signature the gate requires on the trust store."""
    common = settings()
    try:
        admin = generate(common.admin_private_key)
    except SigningKeyError as err:
        fail(str(err))
    common.admin_public_key.parent.mkdir(parents=True, exist_ok=True)
    common.admin_public_key.write_text(public_b64(admin.public_key()) + "\n")
    store = TrustStore.load(common.trust_store)
    store.sign(admin)
    store.save(common.trust_store)
    console.print(
        f"administrator key {key_id_of(admin.public_key())} written to "
        f"{common.admin_private_key}; the gate pins {common.admin_public_key}. "
        "In production keep the private key offline."
    )


@app.command("sign-store")
def sign_store(
    admin_key: Annotated[Path | None, typer.Option(help="Administrator private key.")] = None,
) -> None:
    """Re-sign the trust store after reviewing it (e.g. after removing a key)."""
    common = settings()
    store = TrustStore.load(common.trust_store)
    _sign_and_save(store, admin_key or common.admin_private_key, common.trust_store)
    console.print(f"{common.trust_store} signed: {len(store.keys)} trusted key(s)")


@app.command("list")
def list_keys() -> None:
    """List trusted operator keys."""
    store = TrustStore.load(settings().trust_store)
    for key_id, entry in sorted(store.keys.items()):
        console.print(f"{key_id}  {entry.operator_id}  {','.join(entry.roles)}  {entry.name}")
