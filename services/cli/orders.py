"""`qm order …`: publish free-text supply orders."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from schemas.envelope import content_id, utcnow
from schemas.orders import OrderSubmitted
from schemas.topics import Topic
from services.cli.context import console, fail, print_json, run, settings
from services.cli.lifecycle import wait_for_outcomes
from services.cli.publishing import send_many
from services.cli.signer import sender
from services.common.kafka import KafkaUnavailable

app = typer.Typer(help="Publish free-text supply orders.", no_args_is_help=True)


Split = Literal["paragraph", "line", "whole"]


def _texts(text: str | None, file: Path | None, split: Split) -> list[str]:
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
    body = file.read_text().strip()
    if split == "whole":
        return [body]
    pieces = body.splitlines() if split == "line" else re.split(r"\n\s*\n", body)
    return [piece.strip() for piece in pieces if piece.strip()]


@app.command("submit")
def submit(
    text: Annotated[str | None, typer.Argument(help="The order as written.")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            help='A .jsonl file (one {"text": …} per line) or a plain text file, split into '
            "orders by --split."
        ),
    ] = None,
    split: Annotated[
        str,
        typer.Option(
            help="How a plain text file becomes orders: paragraph (blank lines separate orders), "
            "line (one order per line) or whole (the file is one order; several places in it "
            "become one demand per place)."
        ),
    ] = "paragraph",
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
    wait: Annotated[
        bool, typer.Option(help="Wait for the parser and print each order's outcome.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most.")] = 120.0,
) -> None:
    """Publish one or more orders to orders.submitted.v1 and print their ids.

    With --as and that operator's key, each order is signed: the gate then knows who sent it
    (nobody approves their own order). An unsigned order is planned too, but its plan needs two
    approvers, because anyone can type a name.
    """
    now = utcnow()
    if split not in ("paragraph", "line", "whole"):
        fail(f"--split {split!r}: choose paragraph, line or whole")
    signer = sender(submitted_by, key)
    orders = []
    for index, body in enumerate(_texts(text, file, split)):  # type: ignore[arg-type]
        order_id = content_id("ord", body, submitted_by, now.isoformat(), index)
        claim = signer.sign(order_id, body, now) if signer else None
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
    outcomes = wait_for_outcomes([o.order_id for o in orders], timeout) if wait else None
    if json_out:
        rows = [{"order_id": o.order_id, "text": o.text} for o in orders]
        if outcomes is not None:
            rows = [{**row, **fate.as_json()} for row, fate in zip(rows, outcomes, strict=True)]
        print_json(rows)
        return
    for order in orders:
        console.print(f"submitted {order.order_id}: {escape(repr(order.text[:70]))}")
    for fate in outcomes or ():
        console.print(f"{escape(fate.order_id)} {fate.status}: {escape(fate.summary())}")
