"""`qm order …`: publish free-text supply orders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.envelope import content_id, utcnow
from schemas.orders import OrderSubmitted, Submitter, text_sha256
from schemas.topics import Topic
from services.cli.context import (
    console,
    err_console,
    fail,
    key_path,
    print_json,
    run,
    settings,
)
from services.cli.publishing import send_many
from services.common.kafka import KafkaUnavailable
from services.common.signing import TrustStore, key_id_of, load_private, sign_submission

app = typer.Typer(help="Publish free-text supply orders.", no_args_is_help=True)


def _texts(text: str | None, file: Path | None) -> list[str]:
    if text and file:
        fail("give either TEXT or --file, not both")
    if file is None:
        if not text:
            fail("give the order TEXT or --file PATH")
        return [text]
    if not file.exists():
        fail(f"no file {file}")
    if file.suffix == ".jsonl":
        # One order per line: {"text": ...} objects, as in the evaluation corpora.
        return [json.loads(line)["text"] for line in file.read_text().splitlines() if line.strip()]
    return [file.read_text().strip()]


@app.command("submit")
def submit(
    text: Annotated[str | None, typer.Argument(help="The order as written.")] = None,
    file: Annotated[Path | None, typer.Option(help="A text file (one order) or .jsonl.")] = None,
    submitted_by: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="QM_OPERATOR",
            help="Who submits (an operator cannot approve own orders).",
        ),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(help="Sign with this private key (default: the --as operator's key file)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the order ids as JSON.")] = False,
) -> None:
    """Publish one or more orders to orders.submitted.v1 and print their ids.

    With --as and that operator's key, each order is signed: the gate then knows who sent it
    (nobody approves their own order). An unsigned order is planned too, but its plan needs two
    approvers, because anyone can type a name.
    """
    now = utcnow()
    signer = _signer(submitted_by, key)
    orders = []
    for index, body in enumerate(_texts(text, file)):
        order_id = content_id("ord", body, submitted_by, now.isoformat(), index)
        claim = None
        if signer is not None and submitted_by is not None:
            claim = sign_submission(
                Submitter(
                    order_id=order_id,
                    text_sha256=text_sha256(body),
                    operator_id=submitted_by,
                    role=signer[1],
                    signed_at=now,
                ),
                signer[0],
            )
        orders.append(
            OrderSubmitted(
                message_id=content_id("msg", "submit", order_id),
                occurred_at=now,
                order_id=order_id,
                text=body,
                submitted_by=submitted_by,
                submitter=claim,
            )
        )
    try:
        run(send_many(settings(), Topic.ORDERS_SUBMITTED, [(o, o.order_id) for o in orders]))
    except KafkaUnavailable as err:
        fail(str(err))
    if json_out:
        print_json([{"order_id": o.order_id, "text": o.text} for o in orders])
        return
    for order in orders:
        console.print(f"submitted {order.order_id}: {order.text[:70]!r}")


def _signer(operator: str | None, key: Path | None) -> tuple[Ed25519PrivateKey, str] | None:
    """The sender's key and a role it is trusted for, or None (with a warning) to send unsigned."""
    common = settings()
    path = key or (key_path(common.state_dir, operator) if operator else None)
    if path is None or not path.exists():
        hint = (
            f"no key for {operator} (`qm keys create --operator {operator}`)"
            if operator
            else ("no --as")
        )
        err_console.print(  # stderr: --json output stays machine-readable
            f"[yellow]unsigned[/]: {hint}; a plan with an unsigned order needs two approvers",
            highlight=False,
        )
        return None
    private = load_private(path)
    entry = TrustStore.load(common.trust_store).keys.get(key_id_of(private.public_key()))
    if entry is None or entry.operator_id != operator:
        fail(f"the key at {path} is not trusted for {operator}; sign the store first")
    return private, entry.roles[0]
