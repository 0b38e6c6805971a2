"""`qm order …`: publish free-text supply orders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from schemas.envelope import content_id, utcnow
from schemas.orders import OrderSubmitted
from schemas.topics import Topic
from services.cli.context import console, fail, print_json, run, settings
from services.cli.publishing import send_many
from services.common.kafka import KafkaUnavailable

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
    json_out: Annotated[bool, typer.Option("--json", help="Print the order ids as JSON.")] = False,
) -> None:
    """Publish one or more orders to orders.submitted.v1 and print their ids."""
    now = utcnow()
    orders = []
    for index, body in enumerate(_texts(text, file)):
        order_id = content_id("ord", body, submitted_by, now.isoformat(), index)
        orders.append(
            OrderSubmitted(
                message_id=content_id("msg", "submit", order_id),
                occurred_at=now,
                order_id=order_id,
                text=body,
                submitted_by=submitted_by,
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
