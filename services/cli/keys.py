"""`qm keys …`: operator signing keys, and the trust store the administrator reviews and signs.

Changes (`create`, `revoke`) go to a pending copy of the store; only `sign-store` makes them
trusted, after showing what changed and asking, with the administrator's encrypted key.
Nothing here uses the administrator key implicitly.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from services.cli.context import console, fail, key_path, settings
from services.common.scenario import ScenarioError, load_scenario
from services.common.signing import (
    SigningKeyError,
    TrustStore,
    UntrustedStoreError,
    generate,
    key_id_of,
    load_private,
    public_b64,
    store_changes,
    trusted_key_for,
)

app = typer.Typer(help="Operator signing keys and the trust store.", no_args_is_help=True)

PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help="Read the administrator passphrase from this file (scripts); otherwise it is asked.",
    ),
]


def _load_store(path: Path) -> TrustStore:
    try:
        return TrustStore.load(path)
    except (UntrustedStoreError, ValueError) as err:
        fail(f"{err}; restore the file from a reviewed copy")


def _pending() -> TrustStore:
    """The store with the changes not yet signed (a copy of the signed store if none)."""
    common = settings()
    if common.pending_trust_store.exists():
        return _load_store(common.pending_trust_store)
    return _load_store(common.trust_store)


def _save_pending(store: TrustStore) -> None:
    store.signature, store.admin_key_id = "", ""
    store.save(settings().pending_trust_store)


def _passphrase(file: Path | None, confirm: bool = False) -> bytes:
    if file is not None:
        try:
            secret = file.read_text().strip()
        except OSError as err:
            fail(f"cannot read the passphrase file {file}: {err.strerror}")
    else:
        secret = getpass.getpass("administrator passphrase: ")
        if confirm and getpass.getpass("again: ") != secret:
            fail("the two passphrases differ; run the command again")
    if len(secret) < 8:
        fail("the administrator passphrase must have at least 8 characters")
    return secret.encode()


@app.command("create")
def create(
    operator: Annotated[str, typer.Option("--operator", help="Operator id from the scenario.")],
    trust: Annotated[
        bool,
        typer.Option(help="Also propose the public key for the trust store (`sign-store`)."),
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
        store = _pending()
        store.add(entry)
        _save_pending(store)
        console.print(
            f"proposed for the trust store with roles {', '.join(person.roles)}; the "
            "administrator reviews and signs it with `qm keys sign-store`"
        )


@app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key id to stop trusting.")]) -> None:
    """Propose removing a key from the trust store (takes effect once `sign-store` signs it)."""
    store = _pending()
    if store.keys.pop(key_id, None) is None:
        fail(f"no key {key_id} in the trust store; `qm keys list` shows the key ids")
    _save_pending(store)
    console.print(f"removal of {key_id} proposed; sign it with `qm keys sign-store`")


@app.command("admin-init")
def admin_init(passphrase_file: PassphraseFile = None) -> None:
    """Create the encrypted administrator key, and the read-only anchor the gate pins."""
    common = settings()
    anchor = common.admin_public_key
    if anchor.exists():
        fail(f"{anchor} already exists: the anchor is replaced by deployment, not by this tool")
    secret = _passphrase(passphrase_file, confirm=True)
    try:
        admin = generate(common.admin_private_key, secret)
    except SigningKeyError as err:
        fail(str(err))
    anchor.parent.mkdir(parents=True, exist_ok=True)
    anchor.write_text(public_b64(admin.public_key()) + "\n")
    # Read-only file in a read-only directory: the gate refuses an anchor anyone can rewrite.
    os.chmod(anchor, 0o444)
    os.chmod(anchor.parent, 0o555)  # noqa: S103 - a public key: anyone may read, nobody write
    store = _load_store(common.trust_store)
    store.sign(admin)
    store.save(common.trust_store)
    console.print(
        f"administrator key {key_id_of(admin.public_key())} written (encrypted) to "
        f"{common.admin_private_key}; the gate pins {anchor} (read-only). "
        "In production keep the private key offline and mount the anchor read-only."
    )


@app.command("sign-store")
def sign_store(
    admin_key: Annotated[Path | None, typer.Option(help="Administrator private key.")] = None,
    passphrase_file: PassphraseFile = None,
    yes: Annotated[bool, typer.Option("--yes", help="Sign without asking (scripts).")] = False,
) -> None:
    """Show the pending changes to the trust store, ask, and sign them as administrator."""
    common = settings()
    current = _load_store(common.trust_store)
    proposed = _pending()
    changes = store_changes(current, proposed)
    for line in changes or ["no changes: the store is signed again as it is"]:
        console.print(escape(line))
    problems = proposed.problems()
    if problems:
        fail("the store cannot be signed: " + "; ".join(problems))
    if not yes and not typer.confirm("sign these changes as administrator?", default=False):
        fail("nothing signed")
    try:
        admin = load_private(admin_key or common.admin_private_key, _passphrase(passphrase_file))
    except SigningKeyError as err:
        fail(f"{err}; the trust store must be signed by the administrator (`qm keys admin-init`)")
    proposed.sign(admin)
    proposed.save(common.trust_store)
    common.pending_trust_store.unlink(missing_ok=True)
    console.print(f"{common.trust_store} signed: {len(proposed.keys)} trusted key(s)")


@app.command("list")
def list_keys() -> None:
    """List trusted operator keys, and changes waiting for the administrator's signature."""
    common = settings()
    store = _load_store(common.trust_store)
    for key_id, entry in sorted(store.keys.items()):
        console.print(
            escape(f"{key_id}  {entry.operator_id}  {','.join(entry.roles)}  {entry.name}")
        )
    if common.pending_trust_store.exists():
        for line in store_changes(store, _pending()):
            console.print(escape(f"pending: {line}"))
